#!/usr/bin/env python3
"""Checks META.json against PGXN's META specification v1.0.0.

Validates what a PGXN upload would reject (required keys, their types, the
SemVer and version-range syntax, known licenses, phases and relations) and
what the spec cannot know: the distribution's version is machinesoup.control's
default_version, and so is the Debian package's (the newest entry of
debian/changelog), so that the three never drift apart; every path META.json
names exists, and the Debian packages it lists for the build and the tests
are ones scripts/setup.sh installs.  Run from any directory; prints
"META.json: ok" or the problems found, exit status 1.
"""

import json
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

SEMVER = (r'(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)'
          r'(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?')
VERSION_RANGE_ITEM = r'(?:(?:[=!]=|[<>]=?)\s*)?(?:' + SEMVER + r'|0)'
VERSION_RANGE = re.compile(r'^' + VERSION_RANGE_ITEM + r'(?:,\s*' + VERSION_RANGE_ITEM + r')*$')

LICENSES = {
    'agpl_3', 'apache_1_1', 'apache_2_0', 'artistic_1', 'artistic_2', 'bsd',
    'freebsd', 'gfdl_1_2', 'gfdl_1_3', 'gpl_1', 'gpl_2', 'gpl_3', 'lgpl_2_1',
    'lgpl_3_0', 'mit', 'mozilla_1_0', 'mozilla_1_1', 'openssl', 'perl_5',
    'postgresql', 'qpl_1_0', 'ssleay', 'sun', 'zlib', 'open_source',
    'restricted', 'unrestricted', 'unknown',
}
TOP_KEYS = {
    'name', 'abstract', 'description', 'version', 'maintainer', 'license',
    'provides', 'prereqs', 'resources', 'generated_by', 'meta-spec', 'tags',
    'no_index', 'release_status',
}
REQUIRED = ['name', 'abstract', 'version', 'maintainer', 'license', 'provides', 'meta-spec']
PHASES = {'configure', 'build', 'test', 'runtime', 'develop'}
RELATIONS = {'requires', 'recommends', 'suggests', 'conflicts'}

problems = []


def bad(msg):
    problems.append(msg)


def custom(key):
    return key[:2] in ('x_', 'X_')


def nonempty_string(v):
    return isinstance(v, str) and v.strip() != ''


def is_term(v):
    # A term names a distribution or an extension: two characters or more,
    # no whitespace, slash, backslash or control character.
    return isinstance(v, str) and len(v) >= 2 and not re.search(r'[\s/\\\x00-\x1f\x7f]', v)


def check_path(where, path):
    if not nonempty_string(path):
        bad('%s: not a path' % where)
    elif os.path.isabs(path) or '..' in path.split('/'):
        bad('%s: %r is not a path inside the distribution' % (where, path))
    elif not os.path.exists(os.path.join(ROOT, path)):
        bad('%s: %r does not exist' % (where, path))


def control_default_version():
    with open(os.path.join(ROOT, 'machinesoup.control')) as f:
        m = re.search(r"^default_version\s*=\s*'([^']*)'", f.read(), re.M)
    return m.group(1) if m else None


def debian_changelog_version():
    # The first line of debian/changelog: "machinesoup (0.4.0) bookworm; ...".
    # The package is native, so its version is the extension's; a Debian
    # revision (-1), should one be added, is not part of it.
    try:
        with open(os.path.join(ROOT, 'debian', 'changelog')) as f:
            first = f.readline()
    except OSError:
        return None
    m = re.match(r'^machinesoup \(([^)\s]+)\) ', first)
    return re.sub(r'-[^-]*$', '', m.group(1)) if m else ''


def setup_packages():
    with open(os.path.join(ROOT, 'scripts', 'setup.sh')) as f:
        m = re.search(r'^PACKAGES=\((.*?)\)', f.read(), re.M | re.S)
    return set(m.group(1).split()) if m else set()


def check_provides(meta, version):
    provides = meta['provides']
    if not isinstance(provides, dict) or not provides:
        bad('provides: must map at least one extension name to its description')
        return
    for ext, spec in provides.items():
        where = 'provides.%s' % ext
        if not is_term(ext):
            bad('%s: not a valid extension name' % where)
        if not isinstance(spec, dict):
            bad('%s: must be an object' % where)
            continue
        for key in spec:
            if key not in ('file', 'version', 'abstract', 'docfile') and not custom(key):
                bad('%s: unknown key %r' % (where, key))
        for key in ('file', 'version'):
            if key not in spec:
                bad('%s: missing %r' % (where, key))
        if 'file' in spec:
            check_path(where + '.file', spec['file'])
        if 'docfile' in spec:
            check_path(where + '.docfile', spec['docfile'])
        if 'abstract' in spec and not nonempty_string(spec['abstract']):
            bad('%s.abstract: must be a non-empty string' % where)
        if 'version' in spec:
            if not isinstance(spec['version'], str) or not re.fullmatch(SEMVER, spec['version']):
                bad('%s.version: %r is not a SemVer' % (where, spec['version']))
            elif ext == meta.get('name') and spec['version'] != version:
                bad('%s.version: %s, but machinesoup.control says %s' % (where, spec['version'], version))


def check_prereqs(prereqs):
    if not isinstance(prereqs, dict):
        bad('prereqs: must be an object')
        return
    for phase, rels in prereqs.items():
        if phase not in PHASES and not custom(phase):
            bad('prereqs: unknown phase %r' % phase)
            continue
        if not isinstance(rels, dict):
            bad('prereqs.%s: must be an object' % phase)
            continue
        for rel, reqs in rels.items():
            where = 'prereqs.%s.%s' % (phase, rel)
            if rel not in RELATIONS and not custom(rel):
                bad('prereqs.%s: unknown relationship %r' % (phase, rel))
                continue
            if not isinstance(reqs, dict):
                bad('%s: must be an object' % where)
                continue
            for name, rng in reqs.items():
                if not is_term(name):
                    bad('%s: %r is not a valid name' % (where, name))
                if rng == 0:
                    continue
                if not isinstance(rng, str) or not VERSION_RANGE.match(rng):
                    bad('%s.%s: %r is not a version range' % (where, name, rng))


def check_resources(res):
    if not isinstance(res, dict):
        bad('resources: must be an object')
        return
    allowed = {'homepage': None, 'bugtracker': {'web', 'mailto'},
               'repository': {'url', 'web', 'type'}}
    for key, val in res.items():
        if custom(key):
            continue
        if key not in allowed:
            bad('resources: unknown key %r' % key)
        elif allowed[key] is None:
            if not nonempty_string(val):
                bad('resources.%s: must be a URI' % key)
        elif not isinstance(val, dict) or not val:
            bad('resources.%s: must be a non-empty object' % key)
        else:
            for sub, v in val.items():
                if sub not in allowed[key] and not custom(sub):
                    bad('resources.%s: unknown key %r' % (key, sub))
                elif not nonempty_string(v):
                    bad('resources.%s.%s: must be a non-empty string' % (key, sub))


def check_license(lic):
    if isinstance(lic, str):
        if lic not in LICENSES:
            bad('license: %r is not one of the spec\'s license strings' % lic)
    elif isinstance(lic, list):
        if not lic or any(l not in LICENSES for l in lic):
            bad('license: a list must hold the spec\'s license strings')
    elif isinstance(lic, dict):
        if not lic or not all(nonempty_string(u) for u in lic.values()):
            bad('license: an object must map names to URLs')
    else:
        bad('license: must be a string, a list or an object')


def main():
    try:
        with open(os.path.join(ROOT, 'META.json')) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        print('META.json: cannot read: %s' % e)
        return 1
    if not isinstance(meta, dict):
        print('META.json: not a JSON object')
        return 1

    for key in REQUIRED:
        if key not in meta:
            bad('missing required key %r' % key)
    for key in meta:
        if key not in TOP_KEYS and not custom(key):
            bad('unknown key %r (custom keys start with x_)' % key)

    version = control_default_version()
    if version is None:
        bad('machinesoup.control has no default_version')

    deb_version = debian_changelog_version()
    if deb_version is None:
        bad('debian/changelog: cannot read it')
    elif deb_version == '':
        bad('debian/changelog: the first line is not "machinesoup (<version>) <distribution>; ..."')
    elif version is not None and deb_version != version:
        bad('debian/changelog: version %s, but machinesoup.control says %s '
            '(give debian/changelog an entry for %s)' % (deb_version, version, version))

    if 'name' in meta and not is_term(meta['name']):
        bad('name: not a valid distribution name')
    for key in ('abstract', 'description', 'generated_by'):
        if key in meta and not nonempty_string(meta[key]):
            bad('%s: must be a non-empty string' % key)
    if 'version' in meta:
        if not isinstance(meta['version'], str) or not re.fullmatch(SEMVER, meta['version']):
            bad('version: %r is not a SemVer' % meta['version'])
        elif meta['version'] != version:
            bad('version: %s, but machinesoup.control says %s' % (meta['version'], version))
    if 'maintainer' in meta:
        m = meta['maintainer']
        if not (nonempty_string(m) or (isinstance(m, list) and m and all(nonempty_string(x) for x in m))):
            bad('maintainer: must be a string or a non-empty list of strings')
    if 'license' in meta:
        check_license(meta['license'])
    if 'provides' in meta:
        check_provides(meta, version)
    if 'meta-spec' in meta:
        ms = meta['meta-spec']
        if not isinstance(ms, dict) or ms.get('version') != '1.0.0':
            bad('meta-spec: must be an object with "version": "1.0.0"')
        elif 'url' in ms and not nonempty_string(ms['url']):
            bad('meta-spec.url: must be a URI')
    if 'prereqs' in meta:
        check_prereqs(meta['prereqs'])
    if 'resources' in meta:
        check_resources(meta['resources'])
    if 'release_status' in meta and meta['release_status'] not in ('stable', 'testing', 'unstable'):
        bad('release_status: must be stable, testing or unstable')
    if 'tags' in meta:
        tags = meta['tags']
        if not isinstance(tags, list) or not all(nonempty_string(t) and len(t) <= 255 for t in tags):
            bad('tags: must be a list of strings of 1 to 255 characters')
    if 'no_index' in meta:
        ni = meta['no_index']
        if not isinstance(ni, dict):
            bad('no_index: must be an object')
        else:
            for kind in ('file', 'directory'):
                paths = ni.get(kind, [])
                for p in ([paths] if isinstance(paths, str) else paths):
                    check_path('no_index.%s' % kind, p)

    # The spec has no place for system libraries: META.json lists them in
    # x_system_packages, and they must be what scripts/setup.sh installs.
    sysp = meta.get('x_system_packages', {})
    for kind in ('build', 'package', 'test'):
        missing = sorted(set(sysp.get(kind, [])) - setup_packages())
        if missing:
            bad('x_system_packages.%s: %s not installed by scripts/setup.sh' % (kind, ', '.join(missing)))

    if problems:
        for p in problems:
            print('META.json: %s' % p)
        return 1
    print('META.json: ok (PGXN meta-spec 1.0.0, version %s, as machinesoup.control and debian/changelog)' % version)
    return 0


if __name__ == '__main__':
    sys.exit(main())
