-- machinesoup 0.1.0 -> 0.2.0
\echo Use "ALTER EXTENSION machinesoup UPDATE TO '0.2.0'" to load this file. \quit
