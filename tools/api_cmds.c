/*
 * api_cmds.c - the commands that talk to a BBS over its API.
 */
#include "bbsctl.h"

const struct bbsctl_cmd bbsctl_api_cmds[] = {
    {NULL, NULL, NULL},
};
const size_t bbsctl_api_ncmds = 0;
