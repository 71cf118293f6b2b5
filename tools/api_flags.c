/*
 * api_flags.c - cfdot's command line for bbsctl's API commands: pflag's
 * syntax and messages, cobra's help and usage layout, and cfdot's pre-run
 * checks of the BBS URL, TLS files and timeout (flags win over the
 * environment; the messages are cfdot's).
 *
 * Beyond cfdot: an http:// URL is accepted (the TLS flags are then not
 * needed and not read), so a local server without TLS can be asked; cfdot
 * refuses any scheme but https.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

/* ---- the flags every command gets -------------------------------------------------------- */

enum {
    COMMON_BBSURL,
    COMMON_CA,
    COMMON_CERT,
    COMMON_KEY,
    COMMON_SKIP,
    COMMON_TIMEOUT,
    COMMON_HELP,
    COMMON_N,
};

static void common_flags(struct api_flag *f, const char *cmd_name, char *help_usage, size_t cap)
{
    snprintf(help_usage, cap, "help for %s", cmd_name);
    f[COMMON_BBSURL] = (struct api_flag)API_FLAG_DEF(
        "bbsURL", 0, API_FLAG_STRING,
        "URL of BBS server to target [environment variable equivalent: BBS_URL]");
    f[COMMON_CA] =
        (struct api_flag)API_FLAG_DEF("caCertFile", 0, API_FLAG_STRING,
                                      "path the Certificate Authority (CA) file to use when "
                                      "verifying TLS keypairs [environment variable equivalent: "
                                      "CA_CERT_FILE]");
    f[COMMON_CERT] =
        (struct api_flag)API_FLAG_DEF("clientCertFile", 0, API_FLAG_STRING,
                                      "path to the TLS client certificate to use during "
                                      "mutual-auth TLS [environment variable equivalent: "
                                      "CLIENT_CERT_FILE]");
    f[COMMON_KEY] =
        (struct api_flag)API_FLAG_DEF("clientKeyFile", 0, API_FLAG_STRING,
                                      "path to the TLS client private key file to use during "
                                      "mutual-auth TLS [environment variable equivalent: "
                                      "CLIENT_KEY_FILE]");
    f[COMMON_SKIP] =
        (struct api_flag)API_FLAG_DEF("skipCertVerify", 0, API_FLAG_BOOL,
                                      "when set to true, skips all SSL/TLS certificate "
                                      "verification [environment variable equivalent: "
                                      "SKIP_CERT_VERIFY]");
    f[COMMON_TIMEOUT] = (struct api_flag)API_FLAG_DEF(
        "timeout", 0, API_FLAG_INT,
        "timeout for BBS requests in seconds [environment variable equivalent: CFDOT_TIMEOUT]");
    f[COMMON_HELP] = (struct api_flag)API_FLAG_DEF("help", 'h', API_FLAG_BOOL, help_usage);
}

/* Is common flag `i` offered by a command with `common`? */
static int common_has(enum api_common common, int i)
{
    if (i == COMMON_HELP) {
        return 1;
    }
    if (common == API_COMMON_NONE) {
        return 0;
    }
    if (i == COMMON_TIMEOUT) {
        return common == API_COMMON_BBS_TIMEOUT;
    }
    return 1;
}

/* Every flag of the command (its own, then the common ones), in a caller array. */
struct flagset {
    struct api_flag *f[64];
    size_t n;
};

static void flagset_build(struct flagset *fs, struct api_cmd *c, struct api_flag *common)
{
    fs->n = 0;
    for (size_t i = 0; i < c->nflags && fs->n < 64; i++) {
        fs->f[fs->n++] = &c->flags[i];
    }
    for (int i = 0; i < COMMON_N; i++) {
        if (common_has(c->common, i)) {
            fs->f[fs->n++] = &common[i];
        }
    }
}

/* ---- usage and help (cobra's default layout) --------------------------------------------- */

static const char *type_word(enum api_flag_type t)
{
    switch (t) {
    case API_FLAG_STRING:
        return "string";
    case API_FLAG_INT32:
        return "int32";
    case API_FLAG_INT:
        return "int";
    case API_FLAG_DURATION:
        return "duration";
    case API_FLAG_BOOL:
        break;
    }
    return "";
}

static int by_name(const void *a, const void *b)
{
    const struct api_flag *x = *(const struct api_flag *const *)a;
    const struct api_flag *y = *(const struct api_flag *const *)b;
    return strcmp(x->name, y->name);
}

static void usage(FILE *out, const struct api_cmd *c, const struct flagset *fs_in)
{
    struct flagset fs = *fs_in;
    char left[64][96];
    size_t width = 0;

    qsort(fs.f, fs.n, sizeof(fs.f[0]), by_name);
    for (size_t i = 0; i < fs.n; i++) {
        const struct api_flag *f = fs.f[i];
        const char *tw = type_word(f->type);
        if (f->shorthand) {
            snprintf(left[i], sizeof(left[i]), "  -%c, --%s%s%s", f->shorthand, f->name,
                     tw[0] ? " " : "", tw);
        } else {
            snprintf(left[i], sizeof(left[i]), "      --%s%s%s", f->name, tw[0] ? " " : "", tw);
        }
        if (strlen(left[i]) > width) {
            width = strlen(left[i]);
        }
    }
    fprintf(out, "Usage:\n  bbsctl %s [flags]\n\nFlags:\n", c->use);
    for (size_t i = 0; i < fs.n; i++) {
        fprintf(out, "%-*s   %s\n", (int)width, left[i], fs.f[i]->usage);
    }
}

/* ---- values ------------------------------------------------------------------------------ */

/* strconv.ParseBool */
static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};

    for (size_t i = 0; i < 6; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* strconv.ParseInt(s, 0, bits): 0, or -1 with Go's message in `why`. */
static int parse_int(const char *s, int bits, int64_t *out, char *why, size_t cap)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 0);
    if (s[0] == '\0' || *end != '\0' || s[0] == ' ' || s[0] == '\t' || s[0] == '\n') {
        snprintf(why, cap, "strconv.ParseInt: parsing \"%s\": invalid syntax", s);
        return -1;
    }
    if (errno == ERANGE || (bits == 32 && (v > INT32_MAX || v < INT32_MIN))) {
        snprintf(why, cap, "strconv.ParseInt: parsing \"%s\": value out of range", s);
        return -1;
    }
    *out = v;
    return 0;
}

/* time.ParseDuration: 0, or -1 with Go's message in `why`. */
static int parse_duration(const char *s, int64_t *out, char *why, size_t cap)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
                 {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9}};
    const char *p = s;
    double total = 0;
    int neg = 0;

    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (strcmp(p, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (*p == '\0') {
        snprintf(why, cap, "time: invalid duration \"%s\"", s);
        return -1;
    }
    while (*p != '\0') {
        const char *num = p;
        double v = 0, scale = 1;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (*p - '0');
            p++;
            digits++;
        }
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9') {
                scale /= 10;
                v += (*p - '0') * scale;
                p++;
                digits++;
            }
        }
        if (digits == 0 || p == num) {
            snprintf(why, cap, "time: invalid duration \"%s\"", s);
            return -1;
        }
        const char *u = p;
        while (*p != '\0' && *p != '.' && !(*p >= '0' && *p <= '9')) {
            p++;
        }
        if (u == p) {
            snprintf(why, cap, "time: missing unit in duration \"%s\"", s);
            return -1;
        }
        size_t ul = (size_t)(p - u);
        double mult = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (strlen(units[i].unit) == ul && memcmp(units[i].unit, u, ul) == 0) {
                mult = units[i].ns;
            }
        }
        if (mult == 0) {
            snprintf(why, cap, "time: unknown unit \"%.*s\" in duration \"%s\"", (int)ul, u, s);
            return -1;
        }
        total += v * mult;
        if (total > 9.2e18) {
            snprintf(why, cap, "time: invalid duration \"%s\"", s);
            return -1;
        }
    }
    *out = (int64_t)(neg ? -total : total);
    return 0;
}

/* The flag's name as pflag quotes it in errors: "-i, --index" or "--timeout". */
static void flag_label(const struct api_flag *f, char *out, size_t cap)
{
    if (f->shorthand) {
        snprintf(out, cap, "-%c, --%s", f->shorthand, f->name);
    } else {
        snprintf(out, cap, "--%s", f->name);
    }
}

/* Set `f` from `value`: 0, or -1 with pflag's message in `why`. */
static int flag_set(struct api_flag *f, const char *value, char *why, size_t cap)
{
    char inner[256], label[96];
    int rc = 0;

    inner[0] = '\0';
    switch (f->type) {
    case API_FLAG_STRING:
        f->s = value;
        break;
    case API_FLAG_BOOL:
        if (parse_bool(value, &f->b) != 0) {
            snprintf(inner, sizeof(inner), "strconv.ParseBool: parsing \"%s\": invalid syntax",
                     value);
            rc = -1;
        }
        break;
    case API_FLAG_INT32:
    case API_FLAG_INT:
        rc = parse_int(value, f->type == API_FLAG_INT32 ? 32 : 64, &f->i, inner, sizeof(inner));
        break;
    case API_FLAG_DURATION:
        rc = parse_duration(value, &f->i, inner, sizeof(inner));
        break;
    }
    if (rc != 0) {
        flag_label(f, label, sizeof(label));
        snprintf(why, cap, "invalid argument \"%s\" for \"%s\" flag: %s", value, label, inner);
        return -1;
    }
    f->changed = 1;
    return 0;
}

static struct api_flag *find_long(const struct flagset *fs, const char *name, size_t len)
{
    for (size_t i = 0; i < fs->n; i++) {
        if (strlen(fs->f[i]->name) == len && memcmp(fs->f[i]->name, name, len) == 0) {
            return fs->f[i];
        }
    }
    return NULL;
}

static struct api_flag *find_short(const struct flagset *fs, char c)
{
    for (size_t i = 0; i < fs->n; i++) {
        if (fs->f[i]->shorthand == c) {
            return fs->f[i];
        }
    }
    return NULL;
}

/*
 * pflag's parse: 0, or -1 with the message in `why` and `*kind` the exit
 * status cobra's main gives it (3 for "invalid argument", else 255).
 */
static int parse_args(struct api_cmd *c, const struct flagset *fs, int argc, char **argv, char *why,
                      size_t cap, int *kind)
{
    *kind = API_EXIT_FLAG;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                c->args[c->nargs++] = argv[i];
            }
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            c->args[c->nargs++] = a;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t nl = eq != NULL ? (size_t)(eq - name) : strlen(name);
            struct api_flag *f = find_long(fs, name, nl);
            if (f == NULL) {
                snprintf(why, cap, "unknown flag: --%.*s", (int)nl, name);
                return -1;
            }
            const char *value = NULL;
            if (eq != NULL) {
                value = eq + 1;
            } else if (f->type == API_FLAG_BOOL) {
                value = "true";
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                snprintf(why, cap, "flag needs an argument: --%s", f->name);
                return -1;
            }
            if (flag_set(f, value, why, cap) != 0) {
                *kind = API_EXIT_VALIDATION;
                return -1;
            }
            continue;
        }
        /* One or more shorthands: -abc, -dvalue, -d=value, -d value. */
        for (const char *p = a + 1; *p != '\0'; p++) {
            struct api_flag *f = find_short(fs, *p);
            if (f == NULL) {
                snprintf(why, cap, "unknown shorthand flag: '%c' in %s", *p, a);
                return -1;
            }
            const char *value = NULL;
            if (p[1] == '=') {
                value = p + 2;
            } else if (f->type == API_FLAG_BOOL) {
                value = "true";
            } else if (p[1] != '\0') {
                value = p + 1;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                snprintf(why, cap, "flag needs an argument: '%c' in %s", *p, a);
                return -1;
            }
            if (flag_set(f, value, why, cap) != 0) {
                *kind = API_EXIT_VALIDATION;
                return -1;
            }
            if (value != NULL && f->type != API_FLAG_BOOL) {
                break; /* the rest of the word was the value */
            }
            if (p[1] == '=') {
                break;
            }
        }
    }
    return 0;
}

/* ---- cfdot's pre-run checks -------------------------------------------------------------- */

static int readable(const struct api_cmd *c, const struct flagset *fs, const char *file,
                    const char *what)
{
    FILE *fp = fopen(file, "r");
    char msg[256];

    if (fp != NULL) {
        fclose(fp);
        return 0;
    }
    /* Go's os.PathError: "open FILE: no such file or directory" (strerror, lower case). */
    snprintf(msg, sizeof(msg), "%s", strerror(errno));
    if (msg[0] >= 'A' && msg[0] <= 'Z') {
        msg[0] = (char)(msg[0] - 'A' + 'a');
    }
    fprintf(stderr, "Error: %s file '%s' doesn't exist or is not readable: open %s: %s\n", what,
            file, file, msg);
    usage(stderr, c, fs);
    return API_EXIT_VALIDATION;
}

static const char *flag_or_env(const struct api_flag *f, const char *env)
{
    if (f->s != NULL && f->s[0] != '\0') {
        return f->s;
    }
    const char *e = getenv(env);
    return e != NULL ? e : "";
}

static int prerun(struct api_cmd *c, const struct flagset *fs, struct api_flag *common)
{
    struct bbsctl_target *t = &c->target;

    if (c->common == API_COMMON_NONE) {
        return -1;
    }
    t->url = flag_or_env(&common[COMMON_BBSURL], "BBS_URL");
    if (t->url[0] == '\0') {
        fputs("Error: BBS URL not set. Please specify one with the '--bbsURL' flag or the "
              "'BBS_URL' environment variable.\n",
              stderr);
        usage(stderr, c, fs);
        return API_EXIT_VALIDATION;
    }
    int is_http = strncmp(t->url, "http://", 7) == 0;
    if (strncmp(t->url, "https://", 8) != 0 && !is_http) {
        fprintf(stderr,
                "Error: The URL '%s' does not have an 'https' scheme. Please specify one with "
                "the '--bbsURL' flag or the 'BBS_URL' environment variable.\n",
                t->url);
        usage(stderr, c, fs);
        return API_EXIT_VALIDATION;
    }
    if (!is_http) {
        const char *skip = getenv("SKIP_CERT_VERIFY");
        t->skip_verify = common[COMMON_SKIP].b;
        if (!common[COMMON_SKIP].changed && skip != NULL && skip[0] != '\0' &&
            parse_bool(skip, &t->skip_verify) != 0) {
            fprintf(stderr,
                    "Error: The value '%s' is not a valid value for SKIP_CERT_VERIFY. Please "
                    "specify one of the following valid boolean values: 1, t, T, TRUE, true, "
                    "True, 0, f, F, FALSE, false, False\n",
                    skip);
            usage(stderr, c, fs);
            return API_EXIT_VALIDATION;
        }
        t->ca_file = flag_or_env(&common[COMMON_CA], "CA_CERT_FILE");
        t->cert_file = flag_or_env(&common[COMMON_CERT], "CLIENT_CERT_FILE");
        t->key_file = flag_or_env(&common[COMMON_KEY], "CLIENT_KEY_FILE");
        if (!t->skip_verify) {
            if (t->ca_file[0] == '\0') {
                fputs("Error: --caCertFile must be specified if using HTTPS and "
                      "--skipCertVerify is not set\n",
                      stderr);
                usage(stderr, c, fs);
                return API_EXIT_VALIDATION;
            }
            int rc = readable(c, fs, t->ca_file, "CA cert");
            if (rc != 0) {
                return rc;
            }
        }
        if (t->key_file[0] == '\0' || t->cert_file[0] == '\0') {
            fputs("Error: --clientCertFile and --clientKeyFile must both be specified for TLS "
                  "connections.\n",
                  stderr);
            usage(stderr, c, fs);
            return API_EXIT_VALIDATION;
        }
        int rc = readable(c, fs, t->key_file, "key");
        if (rc == 0) {
            rc = readable(c, fs, t->cert_file, "cert");
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (c->common == API_COMMON_BBS_TIMEOUT) {
        t->timeout_s = (long)common[COMMON_TIMEOUT].i;
        const char *env = getenv("CFDOT_TIMEOUT");
        if (t->timeout_s == 0 && env != NULL && env[0] != '\0') {
            int64_t v = 0;
            char why[256];
            /* cfdot returns strconv's error as is: no usage, and main exits -1. */
            if (parse_int(env, 16, &v, why, sizeof(why)) != 0 || v < INT16_MIN || v > INT16_MAX) {
                if (v < INT16_MIN || v > INT16_MAX) {
                    snprintf(why, sizeof(why),
                             "strconv.ParseInt: parsing \"%s\": value out of range", env);
                }
                fprintf(stderr, "Error: %s\n", why);
                usage(stderr, c, fs);
                return API_EXIT_FLAG;
            }
            t->timeout_s = (long)v;
        }
        if (t->timeout_s < 0) {
            t->timeout_s = 0;
        }
    }
    return -1;
}

/* ---- the entry points -------------------------------------------------------------------- */

/* The common flags live here between api_parse and the usage printed by api_invalid. */
static struct api_flag g_common[COMMON_N];
static char g_help_usage[128];

int api_parse(struct api_cmd *c, int argc, char **argv)
{
    struct flagset fs;
    char why[512];
    int kind = 0;

    common_flags(g_common, c->name, g_help_usage, sizeof(g_help_usage));
    flagset_build(&fs, c, g_common);
    c->argc = argc;
    c->argv = argv;
    c->nargs = 0;
    c->args = calloc((size_t)argc + 1, sizeof(char *));
    if (c->args == NULL) {
        abort();
    }
    memset(&c->target, 0, sizeof(c->target));
    if (parse_args(c, &fs, argc, argv, why, sizeof(why), &kind) != 0) {
        fprintf(stderr, "Error: %s\n", why);
        usage(stderr, c, &fs);
        return kind;
    }
    if (g_common[COMMON_HELP].b) {
        printf("%s\n\n", c->long_desc);
        usage(stdout, c, &fs);
        return 0;
    }
    return prerun(c, &fs, g_common);
}

int api_invalid(const struct api_cmd *c, const char *fmt, ...)
{
    struct flagset fs;
    va_list ap;

    flagset_build(&fs, (struct api_cmd *)c, g_common);
    fputs("Error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    usage(stderr, c, &fs);
    return API_EXIT_VALIDATION;
}

int api_conflicting(const struct api_cmd *c, const char *shorthand, const char *longname)
{
    int s = 0, l = 0;

    for (int i = 1; i < c->argc; i++) {
        s |= strcmp(c->argv[i], shorthand) == 0;
        l |= strcmp(c->argv[i], longname) == 0;
    }
    if (s && l) {
        return api_invalid(c, "Only one of %s and %s should be passed", shorthand, longname);
    }
    return 0;
}

int api_fail(const struct bbsctl_failure *f)
{
    bbsctl_failure_print(f);
    return bbsctl_failure_exit(f);
}

void api_done(struct api_cmd *c)
{
    free(c->args);
    c->args = NULL;
    c->nargs = 0;
}

struct api_flag *api_flag(struct api_cmd *c, const char *name)
{
    for (size_t i = 0; i < c->nflags; i++) {
        if (strcmp(c->flags[i].name, name) == 0) {
            return &c->flags[i];
        }
    }
    return NULL;
}
