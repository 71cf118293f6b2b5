/*
 * xfer_import.c - `bbsctl import`: an export (xfer.h) into an empty
 * database, in one transaction (xfer_writer.c).
 *
 * The input is read as it is loaded (JSON lines a line at a time), so the
 * only thing that grows with the deployment is the open transaction.
 * Counts go to stderr; nothing is committed unless every row loaded and
 * the export's own counts matched.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "bbs/log.h"
#include "xfer.h"

#ifndef BBS_MIGRATIONS_DIR
#define BBS_MIGRATIONS_DIR "migrations"
#endif

struct loader {
    struct xfer_writer *w;
    struct xfer_progress progress;
};

static int load_row(void *ctx, const struct xfer_row *r, struct bbs_error *err)
{
    struct loader *ld = ctx;

    if (xfer_writer_put(ld->w, r, err) != 0) {
        return -1;
    }
    xfer_progress_tick(&ld->progress, xfer_writer_counts(ld->w));
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bbsctl import --database-url URL [--file PATH] [--force]\n"
               "         [--encryption-key label:passphrase ...] [--active-key-label L]\n"
               "         [--migrations-dir DIR]\n"
               "Loads an export (stdin, or --file) into the database in one transaction, after\n"
               "applying the migrations. Refuses a database that has domains, LRPs or tasks\n"
               "unless --force (which deletes them in the same transaction). With keys, blobs\n"
               "are sealed with the active key (default: the first key given).\n");
}

int xfer_cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"database-url", required_argument, NULL, 'd'},
        {"file", required_argument, NULL, 'f'},
        {"force", no_argument, NULL, 'F'},
        {"encryption-key", required_argument, NULL, 'k'},
        {"active-key-label", required_argument, NULL, 'a'},
        {"migrations-dir", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct xfer_keys keys = {0};
    struct bbs_crypt *ring = NULL;
    struct loader ld = {0};
    struct bbs_error err = {0};
    uint64_t counts[XFER_NTABLES];
    const char *url = NULL, *file = NULL, *migrations = BBS_MIGRATIONS_DIR;
    FILE *in = stdin;
    int c, force = 0, rc = 1;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            url = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'F':
            force = 1;
            break;
        case 'k':
            if (xfer_keys_add(&keys, optarg) != 0) {
                return 2;
            }
            break;
        case 'a':
            keys.active = optarg;
            break;
        case 'm':
            migrations = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (url == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (xfer_keys_ring(&keys, &ring) != 0) {
        return 2;
    }
    if (file != NULL && (in = fopen(file, "r")) == NULL) {
        fprintf(stderr, "import: %s: cannot open\n", file);
        goto out;
    }
    bbs_log_set_level(BBS_LOG_ERROR); /* the store's info lines would go to stdout */
    if (xfer_writer_open(url, migrations, force, ring, &ld.w, &err) != 0) {
        fprintf(stderr, "import: %s: %s\n", bbs_error_name(err.type), err.message);
        goto out;
    }
    xfer_progress_start(&ld.progress, "import");
    if (xfer_read(in, load_row, &ld, counts, &err) != 0) {
        fprintf(stderr, "import: %s: %s (nothing imported)\n", bbs_error_name(err.type),
                err.message);
        goto out;
    }
    if (xfer_writer_commit(ld.w, &err) != 0) {
        fprintf(stderr, "import: %s: %s\n", bbs_error_name(err.type), err.message);
        goto out;
    }
    xfer_counts_print(stderr, "imported", xfer_writer_counts(ld.w));
    rc = 0;
out:
    xfer_writer_free(ld.w);
    if (in != NULL && in != stdin) {
        fclose(in);
    }
    bbs_crypt_free(ring);
    return rc;
}
