/*
 * governance.h
 *		What other files use of governance.c: the check of org, model and
 *		label names that every entry point makes before anything else.
 */
#ifndef MS_GOVERNANCE_H
#define MS_GOVERNANCE_H

extern void ms_check_names(const char *org, const char *model, const char *label);

#endif
