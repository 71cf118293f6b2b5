/*
 * xfer_cmds.c - the commands that move state between databases.
 */
#include "bbsctl.h"

const struct bbsctl_cmd bbsctl_xfer_cmds[] = {
    {NULL, NULL, NULL},
};
const size_t bbsctl_xfer_ncmds = 0;
