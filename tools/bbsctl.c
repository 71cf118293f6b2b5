/*
 * bbsctl.c - `bbsctl COMMAND [FLAGS]`: dispatch to the command tables.
 */
#include <stdio.h>
#include <string.h>

#include "bbsctl.h"

static void usage(FILE *out)
{
    fputs("usage: bbsctl COMMAND [FLAGS]   (bbsctl COMMAND --help for a command's flags)\n\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < bbsctl_api_ncmds; i++)
        fprintf(out, "  %-32s %s\n", bbsctl_api_cmds[i].name, bbsctl_api_cmds[i].summary);
    for (size_t i = 0; i < bbsctl_xfer_ncmds; i++)
        fprintf(out, "  %-32s %s\n", bbsctl_xfer_cmds[i].name, bbsctl_xfer_cmds[i].summary);
}

static const struct bbsctl_cmd *find(const char *name)
{
    for (size_t i = 0; i < bbsctl_api_ncmds; i++)
        if (strcmp(bbsctl_api_cmds[i].name, name) == 0)
            return &bbsctl_api_cmds[i];
    for (size_t i = 0; i < bbsctl_xfer_ncmds; i++)
        if (strcmp(bbsctl_xfer_cmds[i].name, name) == 0)
            return &bbsctl_xfer_cmds[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "help") == 0 && argc >= 3) {
        /* `bbsctl help CMD` is `bbsctl CMD --help`. */
        const struct bbsctl_cmd *c = find(argv[2]);
        if (!c) {
            fprintf(stderr, "bbsctl: unknown command \"%s\"\n\n", argv[2]);
            usage(stderr);
            return 2;
        }
        char *hargv[] = {argv[2], (char *)"--help", NULL};
        return c->run(2, hargv);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    const struct bbsctl_cmd *cmd = find(argv[1]);
    if (!cmd) {
        fprintf(stderr, "bbsctl: unknown command \"%s\"\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    return cmd->run(argc - 1, argv + 1);
}
