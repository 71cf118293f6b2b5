/*
 * api.h - what bbsctl's API commands (api_cmds.c, api_events.c) share:
 * cfdot's flag syntax and common flags (api_flags.c), and printing
 * messages as cfdot prints them (api_out.c).
 *
 * Exit statuses are cfdot's: 0 success (and --help), 3 a validation
 * error (bad arguments, flags or environment), 4 an error of the BBS,
 * 5 any other failure (e.g. the connection), 255 a flag the parser does
 * not know or that lacks its value (cobra's own errors, os.Exit(-1)).
 */
#ifndef BBSCTL_API_H
#define BBSCTL_API_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "client.h"

#define API_EXIT_VALIDATION 3
#define API_EXIT_FLAG       255

enum api_flag_type {
    API_FLAG_STRING,
    API_FLAG_BOOL,
    API_FLAG_INT32,
    API_FLAG_INT,
    API_FLAG_DURATION, /* Go's time.ParseDuration syntax, kept in nanoseconds */
};

/* One flag: pflag's syntax (--name value, --name=value, -n value, -nvalue, -n=value). */
struct api_flag {
    const char *name; /* long name, without "--" */
    char shorthand;   /* 0: none */
    enum api_flag_type type;
    const char *usage;
    /* parsed value; `changed` = given on the command line */
    const char *s;
    int b;
    int64_t i; /* INT32, INT; DURATION in ns */
    int changed;
};

/* A flag table row / a command (designated, so the parsed fields start zero). */
#define API_FLAG_DEF(n, sh, t, u)                                                                  \
    {                                                                                              \
        .name = (n), .shorthand = (sh), .type = (t), .usage = (u)                                  \
    }
#define API_CMD(n, u, l, com)                                                                      \
    {                                                                                              \
        .name = (n), .use = (u), .long_desc = (l), .common = (com)                                 \
    }
#define API_CMD_FLAGS(n, u, l, com, fl, nfl)                                                       \
    {                                                                                              \
        .name = (n), .use = (u), .long_desc = (l), .common = (com), .flags = (fl), .nflags = (nfl) \
    }

/* The common flags a command takes, as cfdot's Add*Flags. */
enum api_common {
    API_COMMON_NONE,        /* none (bbsctl's own commands that need none) */
    API_COMMON_BBS,         /* AddBBSFlags: --bbsURL + TLS (the event commands) */
    API_COMMON_BBS_TIMEOUT, /* AddBBSAndTimeoutFlags: also --timeout / CFDOT_TIMEOUT */
};

struct api_cmd {
    const char *name;      /* "actual-lrps" */
    const char *use;       /* "actual-lrps" or "desired-lrp PROCESS_GUID" */
    const char *long_desc; /* cobra's Long, first in --help */
    enum api_common common;
    struct api_flag *flags; /* the command's own flags (may be NULL) */
    size_t nflags;

    /* filled by api_parse */
    struct bbsctl_target target;
    char **args; /* positional arguments (pointers into argv); free with api_done */
    int nargs;
    int argc; /* the command's argv, for cfdot's short-and-long flag check */
    char **argv;
};

/*
 * Parse `argv` (argv[0] = the command name) with the command's flags and
 * the common ones, answer --help, then run cfdot's pre-run checks (BBS
 * URL, TLS files, timeout; flag first, environment second). Returns -1
 * when the command should go on with c->target and c->args filled, or the
 * exit status to return at once (0 after --help; the error is printed).
 */
int api_parse(struct api_cmd *c, int argc, char **argv);

/* Print "Error: <message>" and the command's usage on stderr; returns 3. */
int api_invalid(const struct api_cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cfdot's check that a flag was not given both as `shorthand` and `longname`; 0 or 3 (printed). */
int api_conflicting(const struct api_cmd *c, const char *shorthand, const char *longname);

/* Print a failed call and return its exit status (4 or 5). */
int api_fail(const struct bbsctl_failure *f);

/* Release what api_parse allocated. */
void api_done(struct api_cmd *c);

/* The flag `name` of the command. */
struct api_flag *api_flag(struct api_cmd *c, const char *name);

/* The event commands (api_events.c). */
int bbsctl_cmd_lrp_events(int argc, char **argv);
int bbsctl_cmd_task_events(int argc, char **argv);

/* ---- output (api_out.c) ---- */

/*
 * Write `m` on stdout as cfdot does: Go's encoding/json of the model on one
 * line (compact, HTML-safe escaping, then "\n"). Returns 0 or -1.
 */
int api_print(const ProtobufCMessage *m);

/* {"type":<type>,"data":<m>} on one line, as cfdot's event commands. */
int api_print_event(const char *type, const ProtobufCMessage *m);

/*
 * Read a create-/update- spec: `arg` is JSON text, or "@FILE" to read it
 * from FILE; decode it as `desc`. Returns the message (free with
 * protobuf_c_message_free_unpacked(m, NULL)) or NULL with the reason in
 * `why` ("Invalid JSON: ...", or the file error).
 */
ProtobufCMessage *api_read_spec(const ProtobufCMessageDescriptor *desc, const char *arg, char *why,
                                size_t whylen);

#endif
