/*
 * bbsctl.h - the operator's CLI: one table of commands per source file.
 *
 * bbsctl.c only dispatches: `bbsctl CMD ARGS...` finds CMD in the tables
 * below and calls its run() with argv[0] = CMD. Each command parses its own
 * flags, answers `--help`, writes one JSON value per line on stdout, errors
 * on stderr, and returns the process exit status (0 = success).
 */
#ifndef BBSCTL_H
#define BBSCTL_H

#include <stddef.h>

struct bbsctl_cmd {
    const char *name;    /* as typed: "actual-lrps" */
    const char *summary; /* one line for `bbsctl --help` */
    int (*run)(int argc, char **argv);
};

/* Commands that talk to a BBS over its API (cfdot's, and `status`): api_cmds.c. */
extern const struct bbsctl_cmd bbsctl_api_cmds[];
extern const size_t bbsctl_api_ncmds;

/* Commands that move state between databases (export, import,
 * migrate-from-upstream): xfer_cmds.c. */
extern const struct bbsctl_cmd bbsctl_xfer_cmds[];
extern const size_t bbsctl_xfer_ncmds;

#endif
