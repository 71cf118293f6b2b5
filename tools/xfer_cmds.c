/*
 * xfer_cmds.c - the commands that move state between databases (the
 * pieces: xfer.h; docs/operations.md "Export, import, moving over from
 * upstream").
 */
#include "bbsctl.h"
#include "xfer.h"

const struct bbsctl_cmd bbsctl_xfer_cmds[] = {
    {"export", "write every domain, LRP and task of a database as JSON (or JSON lines)",
     xfer_cmd_export},
    {"import", "load an export into an empty database in one transaction", xfer_cmd_import},
    {"migrate-from-upstream", "copy an upstream BBS database (read-only) into ours",
     xfer_cmd_migrate},
};
const size_t bbsctl_xfer_ncmds = sizeof(bbsctl_xfer_cmds) / sizeof(bbsctl_xfer_cmds[0]);
