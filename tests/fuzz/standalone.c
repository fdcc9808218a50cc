/*
 * standalone.c - a main() that replays fuzz inputs without libFuzzer, so
 * the corpus runs as a regression test in the ordinary (gcc) build.
 *
 * Usage: fuzz-<x> FILE|DIR...  Every regular file named, and every regular
 * file directly inside a named directory, is read whole and passed once to
 * LLVMFuzzerTestOneInput().  Exits 1 on an unreadable argument or when no
 * input was run at all (an empty or misnamed corpus must not pass).
 *
 * Test tool, not library code: plain malloc and stdio are fine here.
 *
 * SPDX-License-Identifier: MIT
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Larger than any harness accepts; bigger files are cut here. */
#define INPUT_MAX (2u * 1024 * 1024)

/* run_file - feed one file, at most INPUT_MAX bytes, to the target */
static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *buf;
    size_t n;

    if (f == NULL || fstat(fileno(f), &st) != 0) {
        perror(path);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    n = (size_t)st.st_size > INPUT_MAX ? INPUT_MAX : (size_t)st.st_size;
    /* Exactly n bytes, so ASan sees any read past the input's end. */
    buf = malloc(n ? n : 1);
    if (buf == NULL || fread(buf, 1, n, f) != n) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

/* run_dir - feed every regular file directly inside dir; count them */
static int
run_dir(const char *dir, unsigned long *count)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct stat st;
    char path[4096];
    int rc = 0;

    if (d == NULL) {
        perror(dir);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
            sizeof(path)) {
            fprintf(stderr, "%s/%s: path too long\n", dir, de->d_name);
            rc = -1;
            continue;
        }
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (run_file(path) != 0)
            rc = -1;
        else
            (*count)++;
    }
    closedir(d);
    return rc;
}

int
main(int argc, char **argv)
{
    unsigned long count = 0;
    struct stat st;
    int i, rc = 0;

    for (i = 1; i < argc; i++) {
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            rc = 1;
        } else if (S_ISDIR(st.st_mode)) {
            if (run_dir(argv[i], &count) != 0)
                rc = 1;
        } else if (run_file(argv[i]) != 0) {
            rc = 1;
        } else {
            count++;
        }
    }
    printf("%lu inputs run\n", count);
    if (count == 0) {
        fprintf(stderr, "no inputs\n");
        return 1;
    }
    return rc;
}
