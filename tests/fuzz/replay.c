/*
 * replay.c - main() for a fuzz driver outside libFuzzer: runs every file
 * named on the command line (directories: every regular file inside,
 * sorted) through LLVMFuzzerTestOneInput once. This is how the committed
 * seeds and every past finding run as unit tests (ctest -L unit, under
 * ASan + UBSan in CI) with gcc and no libFuzzer.
 *
 *   replay_fuzz_decode tests/fuzz/corpus/fuzz_decode tests/fuzz/regressions/fuzz_decode
 *
 * Exits 0 after running at least one input, 1 if it could run none (a
 * missing corpus would otherwise pass silently); a crash is the failure.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every regular file in `dir`; returns how many ran, -1 on error. */
static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;
    size_t cap = 0;
    int ran = 0;

    if (d == NULL) {
        return 0; /* an absent regressions dir is fine */
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof(*names));
            if (names == NULL) {
                abort();
            }
        }
        names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
        if (names[n] == NULL) {
            abort();
        }
        sprintf(names[n], "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n > 1) {
        qsort(names, n, sizeof(*names), cmp);
    }
    for (size_t i = 0; i < n; i++) {
        struct stat st;

        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(names[i]) != 0) {
                ran = -1;
            } else if (ran >= 0) {
                ran++;
            }
        }
        free(names[i]);
    }
    free(names);
    return ran;
}

int main(int argc, char **argv)
{
    int total = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;
        int ran;

        if (stat(argv[i], &st) == 0 && S_ISREG(st.st_mode)) {
            ran = run_file(argv[i]) == 0 ? 1 : -1;
        } else {
            ran = run_dir(argv[i]);
        }
        if (ran < 0) {
            return 1;
        }
        total += ran;
    }
    printf("replay: %d inputs, no crash\n", total);
    return total > 0 ? 0 : 1;
}
