/*
 * harness.c - see harness.h.
 *
 * Process layout while a group runs: the test process holds the stub
 * auctioneer (libmicrohttpd, internal polling thread) and one curl handle per
 * client; the server is a child started with posix_spawn whose stdout and
 * stderr go to <tmpdir>/server.log. State is process-wide (one server per
 * test executable), kept in `g`.
 */
#include "harness.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>

#include <curl/curl.h>
#include <libpq-fe.h>
#include <microhttpd.h>

extern char **environ;

/* ---- process-wide state --------------------------------------------------------------- */

struct auct_state {
    pthread_mutex_t mu;
    json_t *posts; /* array of arrays: every valid POST body, in arrival order */
    size_t bad;
};

static struct {
    char name[64];
    char tmpdir[512];
    char log_path[600];
    char config_path[600];
    char dbname[128];
    char *admin_conninfo_src; /* the fixture's conninfo text */
    char *db_conninfo;        /* key=value string naming our database */
    int db_created;
    pid_t pid;
    int port;
    char base_url[64];
    int valgrind;
    int failed; /* setup/teardown failure, for it_main_exit */
    int started;
    struct it_client *main_client;
    struct MHD_Daemon *auct;
    int auct_port;
    struct auct_state as;
    unsigned long uniq;
} g = {.as = {.mu = PTHREAD_MUTEX_INITIALIZER}};

/*
 * Server variants (the it_server_config / it_tls_client section at the end
 * of this file). All zero: the harness behaves exactly as without them.
 */
static struct {
    json_t *extra_config; /* merged into the next config file */
    int no_valgrind;
    int tls;
    char ca_file[512];
    char cert_file[512];
    char key_file[512];
    int health_port;
} gx;

/* ---- small utilities ------------------------------------------------------------------- */

struct it_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

static void buf_append(struct it_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        uint8_t *d = realloc(b->data, cap);
        if (d == NULL) {
            fprintf(stderr, "harness: out of memory\n");
            abort();
        }
        b->data = d;
        b->cap = cap;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
}

int64_t it_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void it_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void it_uniq(char *buf, size_t len, const char *prefix)
{
    snprintf(buf, len, "%s-%lu", prefix, ++g.uniq);
}

int it_valgrind(void)
{
    return g.valgrind;
}

int it_quiet_ms(void)
{
    return g.valgrind ? 3000 : 1000;
}

const char *it_base_url(void)
{
    return g.base_url;
}

int it_is_uuid_v4(const char *s)
{
    static const char pattern[] = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
    if (s == NULL || strlen(s) != sizeof(pattern) - 1) {
        return 0;
    }
    for (size_t i = 0; pattern[i] != '\0'; i++) {
        char c = s[i];
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        switch (pattern[i]) {
        case '-':
        case '4':
            if (c != pattern[i]) {
                return 0;
            }
            break;
        case 'y':
            if (c != '8' && c != '9' && c != 'a' && c != 'b') {
                return 0;
            }
            break;
        default:
            if (!hex) {
                return 0;
            }
            break;
        }
    }
    return 1;
}

int it_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        if (c < 0x80) {
            n = 0;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
        } else {
            return 0;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
        }
        i += n + 1;
    }
    return 1;
}

static char *read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    struct it_buf b = {0};
    char chunk[8192];
    size_t n;

    if (f == NULL) {
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        buf_append(&b, chunk, n);
    }
    fclose(f);
    if (b.data == NULL) {
        buf_append(&b, "", 0);
    }
    if (len_out != NULL) {
        *len_out = b.len;
    }
    return (char *)b.data;
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d != NULL) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                char child[1024];
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                    continue;
                }
                snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
                rm_rf(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* A free loopback TCP port (bind port 0, read it back, close). */
static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = -1;

    if (fd < 0) {
        return -1;
    }
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0) {
        port = ntohs(a.sin_port);
    }
    close(fd);
    return port;
}

static void print_server_log(void)
{
    size_t len = 0;
    char *log = g.log_path[0] ? read_file(g.log_path, &len) : NULL;
    const size_t max = 256 * 1024;

    if (log == NULL) {
        fprintf(stderr, "harness: no server log\n");
        return;
    }
    fprintf(stderr, "---- server log %s (%zu bytes%s) ----\n", g.log_path, len,
            len > max ? ", last 256 KiB" : "");
    fwrite(len > max ? log + len - max : log, 1, len > max ? max : len, stderr);
    fprintf(stderr, "---- end of server log ----\n");
    free(log);
}

/* ---- database ------------------------------------------------------------------------- */

static void conninfo_append(struct it_buf *b, const char *key, const char *val)
{
    buf_append(b, key, strlen(key));
    buf_append(b, "='", 2);
    for (const char *p = val; *p; p++) {
        if (*p == '\'' || *p == '\\') {
            buf_append(b, "\\", 1);
        }
        buf_append(b, p, 1);
    }
    buf_append(b, "' ", 2);
}

/* Rebuild the fixture conninfo as key=value text with dbname replaced. */
static char *conninfo_with_db(const char *src, const char *dbname)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(src, &errmsg);
    struct it_buf b = {0};

    if (opts == NULL) {
        fprintf(stderr, "harness: cannot parse conninfo \"%s\": %s\n", src, errmsg ? errmsg : "?");
        PQfreemem(errmsg);
        return NULL;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || o->val[0] == '\0' || strcmp(o->keyword, "dbname") == 0) {
            continue;
        }
        conninfo_append(&b, o->keyword, o->val);
    }
    conninfo_append(&b, "dbname", dbname);
    PQconninfoFree(opts);
    return (char *)b.data;
}

static int admin_exec(const char *sql)
{
    char *ci = conninfo_with_db(g.admin_conninfo_src, "postgres");
    PGconn *conn = NULL;
    PGresult *res = NULL;
    int rc = -1;

    if (ci == NULL) {
        return -1;
    }
    conn = PQconnectdb(ci);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "harness: cannot connect to the test PostgreSQL (%s): %s\n", ci,
                PQerrorMessage(conn));
        goto out;
    }
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "harness: %s: %s\n", sql, PQerrorMessage(conn));
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    PQfinish(conn);
    free(ci);
    return rc;
}

static int db_create(void)
{
    const char *pgdir = getenv("BBS_TEST_PGDIR");
    char path[1024];
    char sql[256];
    char *text;

    if (pgdir == NULL || pgdir[0] == '\0') {
        fprintf(stderr, "harness: BBS_TEST_PGDIR is not set\n");
        return -1;
    }
    snprintf(path, sizeof(path), "%s/conninfo", pgdir);
    text = read_file(path, NULL);
    if (text == NULL) {
        fprintf(stderr, "harness: cannot read %s (is the pg fixture running?)\n", path);
        return -1;
    }
    for (size_t n = strlen(text); n > 0 && isspace((unsigned char)text[n - 1]); n--) {
        text[n - 1] = '\0';
    }
    g.admin_conninfo_src = text;
    snprintf(g.dbname, sizeof(g.dbname), "bbs_it_%s_%ld", g.name, (long)getpid());
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", g.dbname);
    if (admin_exec(sql) != 0) {
        return -1;
    }
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", g.dbname);
    if (admin_exec(sql) != 0) {
        return -1;
    }
    g.db_created = 1;
    g.db_conninfo = conninfo_with_db(text, g.dbname);
    return g.db_conninfo ? 0 : -1;
}

static int db_drop(void)
{
    char sql[256];
    if (!g.db_created) {
        return 0;
    }
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", g.dbname);
    g.db_created = 0;
    return admin_exec(sql);
}

/* ---- stub auctioneer ------------------------------------------------------------------ */

struct auct_conn {
    struct it_buf body;
};

static enum MHD_Result auct_respond(struct MHD_Connection *conn, unsigned int status)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void auct_record(const char *url, const char *method, const char *ctype,
                        const struct it_buf *body)
{
    json_error_t jerr;
    json_t *doc = NULL;
    int ok = strcmp(url, "/v1/lrps") == 0 && strcmp(method, "POST") == 0 && ctype != NULL &&
             strncmp(ctype, "application/json", 16) == 0;

    if (ok && body->data != NULL) {
        doc = json_loadb((const char *)body->data, body->len, 0, &jerr);
    }
    pthread_mutex_lock(&g.as.mu);
    if (doc != NULL && json_is_array(doc)) {
        json_array_append(g.as.posts, doc);
    } else {
        g.as.bad++;
    }
    pthread_mutex_unlock(&g.as.mu);
    json_decref(doc);
}

static enum MHD_Result auct_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
    struct auct_conn *c = *con_cls;
    (void)cls;
    (void)version;

    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            return MHD_NO;
        }
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        buf_append(&c->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    auct_record(url, method,
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                &c->body);
    return auct_respond(conn,
                        strcmp(url, "/v1/lrps") == 0 ? MHD_HTTP_ACCEPTED : MHD_HTTP_NOT_FOUND);
}

static void auct_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    struct auct_conn *c = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (c != NULL) {
        free(c->body.data);
        free(c);
        *con_cls = NULL;
    }
}

static int auct_start(void)
{
    struct sockaddr_in a;
    const union MHD_DaemonInfo *info;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    g.as.posts = json_array();
    g.as.bad = 0;
    g.auct = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                              auct_handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                              MHD_OPTION_NOTIFY_COMPLETED, auct_completed, NULL,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
    if (g.auct == NULL) {
        fprintf(stderr, "harness: cannot start the stub auctioneer\n");
        return -1;
    }
    info = MHD_get_daemon_info(g.auct, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0) {
        fprintf(stderr, "harness: stub auctioneer has no port\n");
        return -1;
    }
    g.auct_port = info->port;
    return 0;
}

static void auct_stop(void)
{
    if (g.auct != NULL) {
        MHD_stop_daemon(g.auct);
        g.auct = NULL;
    }
    json_decref(g.as.posts);
    g.as.posts = NULL;
}

static json_t *auct_collect(const char *guid, size_t *posts_out)
{
    json_t *out = json_array();
    size_t i, j, posts = 0;
    json_t *post, *el;

    pthread_mutex_lock(&g.as.mu);
    json_array_foreach(g.as.posts, i, post)
    {
        int hit = 0;
        json_array_foreach(post, j, el)
        {
            const char *pg = json_string_value(json_object_get(el, "process_guid"));
            if (pg != NULL && strcmp(pg, guid) == 0) {
                json_array_append_new(out, json_deep_copy(el));
                hit = 1;
            }
        }
        posts += (size_t)hit;
    }
    pthread_mutex_unlock(&g.as.mu);
    if (posts_out != NULL) {
        *posts_out = posts;
    }
    return out;
}

json_t *it_auction_starts(const char *guid)
{
    return auct_collect(guid, NULL);
}

json_t *it_auction_wait(const char *guid, size_t n, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        json_t *got = auct_collect(guid, NULL);
        if (json_array_size(got) >= n || mono_ms() >= deadline) {
            return got;
        }
        json_decref(got);
        it_sleep_ms(20);
    }
}

size_t it_auction_posts_for(const char *guid)
{
    size_t posts = 0;
    json_decref(auct_collect(guid, &posts));
    return posts;
}

size_t it_auction_bad_requests(void)
{
    size_t bad;
    pthread_mutex_lock(&g.as.mu);
    bad = g.as.bad;
    pthread_mutex_unlock(&g.as.mu);
    return bad;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

size_t it_auction_indices(const json_t *start, int32_t *out, size_t cap)
{
    const json_t *arr = json_object_get(start, "indices");
    size_t i, n = 0;
    json_t *v;

    json_array_foreach(arr, i, v)
    {
        if (n < cap) {
            out[n++] = (int32_t)json_integer_value(v);
        }
    }
    qsort(out, n, sizeof(out[0]), cmp_i32);
    return n;
}

/* ---- HTTP client ------------------------------------------------------------------------ */

struct it_client {
    CURL *h;
};

struct it_client *it_client_new(void)
{
    struct it_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        abort();
    }
    c->h = curl_easy_init();
    if (c->h == NULL) {
        abort();
    }
    return c;
}

void it_client_free(struct it_client *c)
{
    if (c == NULL) {
        return;
    }
    curl_easy_cleanup(c->h);
    free(c);
}

struct it_client *it_main_client(void)
{
    return g.main_client;
}

void it_resp_free(struct it_resp *r)
{
    if (r == NULL) {
        return;
    }
    free(r->body);
    memset(r, 0, sizeof(*r));
}

struct xfer {
    struct it_buf body;
    struct it_resp *out;
    const uint8_t *up;
    size_t up_len;
    size_t up_off;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct xfer *x = ud;
    buf_append(&x->body, p, sz * n);
    return sz * n;
}

static void header_value(const char *line, size_t len, const char *name, char *dst, size_t dstlen)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') {
        return;
    }
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) {
        end--;
    }
    size_t vl = (size_t)(end - v);
    if (vl >= dstlen) {
        vl = dstlen - 1;
    }
    memcpy(dst, v, vl);
    dst[vl] = '\0';
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = sz * n;

    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* a new response (e.g. after 100 Continue): forget earlier headers */
        x->out->content_type[0] = '\0';
        x->out->allow[0] = '\0';
    }
    header_value(p, len, "Content-Type", x->out->content_type, sizeof(x->out->content_type));
    header_value(p, len, "Allow", x->out->allow, sizeof(x->out->allow));
    return len;
}

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t room = sz * n;
    size_t left = x->up_len - x->up_off;
    size_t k = left < room ? left : room;
    /* small pieces, so a chunked upload really is several chunks */
    if (k > 16384) {
        k = 16384;
    }
    if (k > 0) {
        memcpy(p, x->up + x->up_off, k);
    }
    x->up_off += k;
    return k;
}

static int has_header(const char *const *headers, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        if (strncasecmp(headers[i], name, nl) == 0 && headers[i][nl] == ':') {
            return 1;
        }
    }
    return 0;
}

int it_client_request(struct it_client *c, const char *method, const char *path, const void *body,
                      size_t len, const char *const *headers, int chunked, struct it_resp *out,
                      char *errbuf, size_t errlen)
{
    static const uint8_t empty[1] = {0};
    char url[1024];
    char cerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *hl = NULL;
    struct xfer x;
    curl_off_t clen = -1;
    CURLcode rc;
    int ret = -1;

    memset(out, 0, sizeof(*out));
    memset(&x, 0, sizeof(x));
    x.out = out;
    x.up = body ? body : empty;
    x.up_len = body ? len : 0;

    snprintf(url, sizeof(url), "%s%s", g.base_url, path);
    curl_easy_reset(c->h);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, g.valgrind ? 180000L : 30000L);
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, cerr);
    if (gx.tls) {
        curl_easy_setopt(c->h, CURLOPT_CAINFO, gx.ca_file);
        if (gx.cert_file[0] != '\0') {
            curl_easy_setopt(c->h, CURLOPT_SSLCERT, gx.cert_file);
            curl_easy_setopt(c->h, CURLOPT_SSLKEY, gx.key_file);
        }
    }
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->h, CURLOPT_HEADERDATA, &x);

    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c->h, CURLOPT_POST, 1L);
        if (!has_header(headers, "Content-Type")) {
            hl = curl_slist_append(hl, "Content-Type: " IT_PROTOBUF_CTYPE);
        }
    } else if (strcmp(method, "GET") == 0 && body == NULL) {
        curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c->h, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
        if (body != NULL) {
            curl_easy_setopt(c->h, CURLOPT_POST, 1L);
        }
    }
    if (strcmp(method, "POST") == 0 || body != NULL) {
        if (chunked) {
            curl_easy_setopt(c->h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c->h, CURLOPT_READDATA, &x);
            hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
        } else {
            curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, (const char *)x.up);
            curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x.up_len);
        }
    }
    if (!has_header(headers, "Expect")) {
        hl = curl_slist_append(hl, "Expect:");
    }
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        hl = curl_slist_append(hl, headers[i]);
    }
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hl);

    rc = curl_easy_perform(c->h);
    if (rc != CURLE_OK) {
        snprintf(errbuf, errlen, "%s %s: %s (%s)", method, path, curl_easy_strerror(rc), cerr);
        goto out;
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(c->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
    curl_easy_getinfo(c->h, CURLINFO_NUM_CONNECTS, &out->new_connections);
    out->content_length = (int64_t)clen;
    if (x.body.data == NULL) {
        buf_append(&x.body, "", 0);
    }
    out->body = x.body.data;
    out->len = x.body.len;
    x.body.data = NULL;
    ret = 0;
out:
    free(x.body.data);
    curl_slist_free_all(hl);
    return ret;
}

void it_request(const char *method, const char *path, const void *body, size_t len,
                const char *const *headers, struct it_resp *out)
{
    char err[512];
    if (it_client_request(g.main_client, method, path, body, len, headers, 0, out, err,
                          sizeof(err)) != 0) {
        fail_msg("transport failure: %s", err);
    }
}

void it_post_raw(const char *path, const void *body, size_t len, struct it_resp *out)
{
    it_request("POST", path, body, len, NULL, out);
}

/* ---- protobuf helpers ------------------------------------------------------------------ */

uint8_t *it_pack(const ProtobufCMessage *msg, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n + 1);
    if (buf == NULL) {
        abort();
    }
    *len = protobuf_c_message_pack(msg, buf);
    return buf;
}

ProtobufCMessage *it_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *body, size_t len)
{
    static const uint8_t empty[1] = {0};
    return protobuf_c_message_unpack(desc, NULL, len, len ? body : empty);
}

void *it_client_call(struct it_client *c, const char *path, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *desc, char *errbuf, size_t errlen)
{
    struct it_resp r;
    uint8_t *body = NULL;
    size_t len = 0;
    ProtobufCMessage *msg = NULL;

    if (req != NULL) {
        body = it_pack(req, &len);
    }
    if (it_client_request(c, "POST", path, body ? body : (const uint8_t *)"", len, NULL, 0, &r,
                          errbuf, errlen) != 0) {
        free(body);
        return NULL;
    }
    free(body);
    if (r.status != 200) {
        snprintf(errbuf, errlen, "POST %s: HTTP %ld, body \"%.200s\"", path, r.status,
                 (const char *)r.body);
    } else if (strcmp(r.content_type, IT_PROTOBUF_CTYPE) != 0) {
        snprintf(errbuf, errlen, "POST %s: Content-Type \"%s\"", path, r.content_type);
    } else if (r.content_length != (int64_t)r.len) {
        snprintf(errbuf, errlen, "POST %s: Content-Length %lld but %zu bytes", path,
                 (long long)r.content_length, r.len);
    } else {
        msg = it_unpack(desc, r.body, r.len);
        if (msg == NULL) {
            snprintf(errbuf, errlen, "POST %s: response (%zu bytes) is not a valid %s", path, r.len,
                     desc->name);
        }
    }
    it_resp_free(&r);
    return msg;
}

void *it_call(const char *path, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc)
{
    char err[1024] = "";
    void *msg = it_client_call(g.main_client, path, req, desc, err, sizeof(err));
    if (msg == NULL) {
        fail_msg("%s", err);
    }
    return msg;
}

void it_free(void *msg)
{
    if (msg != NULL) {
        protobuf_c_message_free_unpacked(msg, NULL);
    }
}

static const Models__Error *resp_error(const void *resp)
{
    const ProtobufCMessage *m = resp;
    const ProtobufCFieldDescriptor *f;

    if (m == NULL) {
        return NULL;
    }
    f = protobuf_c_message_descriptor_get_field(m->descriptor, 1);
    if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE ||
        f->descriptor != &models__error__descriptor) {
        return NULL;
    }
    return *(Models__Error *const *)((const char *)m + f->offset);
}

int it_err_type(const void *resp)
{
    const Models__Error *e = resp_error(resp);
    return e == NULL ? IT_OK : (int)e->type;
}

const char *it_err_msg(const void *resp)
{
    const Models__Error *e = resp_error(resp);
    return e == NULL || e->message == NULL ? "" : e->message;
}

int it_call_err(const char *path, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *desc)
{
    void *resp = it_call(path, req, desc);
    int t = it_err_type(resp);
    it_free(resp);
    return t;
}

void it_assert_invalid(const void *resp, const char *message)
{
    if (it_err_type(resp) != MODELS__ERROR__TYPE__InvalidRequest) {
        fail_msg("expected InvalidRequest \"%s\", got error type %d \"%s\"", message,
                 it_err_type(resp), it_err_msg(resp));
    }
    assert_string_equal(it_err_msg(resp), message);
}

void it_expect_invalid(const char *path, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *desc, const char *message)
{
    void *resp = it_call(path, req, desc);
    it_assert_invalid(resp, message);
    it_free(resp);
}

/* ---- deep comparison ----------------------------------------------------------------- */

static int diff_msg(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *const *skip,
                    char *path, size_t pathlen, char *diff, size_t difflen);

static int is_map_entry(const ProtobufCMessageDescriptor *d)
{
    size_t nl = strlen(d->name);
    return d->n_fields == 2 && nl > 5 && strcmp(d->name + nl - 5, "Entry") == 0 &&
           strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

static const char *str_or_empty(const char *s)
{
    return s == NULL ? "" : s;
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static void scalar_text(const ProtobufCFieldDescriptor *f, const void *p, char *out, size_t len)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        snprintf(out, len, "%d", *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(out, len, "%u", *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(out, len, "%lld", (long long)*(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(out, len, "%llu", (unsigned long long)*(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        snprintf(out, len, "%d", (int)*(const protobuf_c_boolean *)p);
        break;
    case PROTOBUF_C_TYPE_STRING:
        snprintf(out, len, "\"%.120s\"", str_or_empty(*(char *const *)p));
        break;
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = p;
        snprintf(out, len, "bytes[%zu] \"%.*s\"", bd->len, (int)(bd->len > 120 ? 120 : bd->len),
                 bd->data ? (const char *)bd->data : "");
        break;
    }
    default:
        snprintf(out, len, "?");
        break;
    }
}

/* Compare one value (not repeated) at `pa`/`pb`. */
static int diff_value(const ProtobufCFieldDescriptor *f, const void *pa, const void *pb, char *path,
                      size_t pathlen, char *diff, size_t difflen)
{
    char ta[200], tb[200];

    switch (f->type) {
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *ma = *(ProtobufCMessage *const *)pa;
        const ProtobufCMessage *mb = *(ProtobufCMessage *const *)pb;
        if (ma == NULL && mb == NULL) {
            return 0;
        }
        if ((ma == NULL) != (mb == NULL)) {
            snprintf(diff, difflen, "%s: %s vs %s", path, ma ? "present" : "absent",
                     mb ? "present" : "absent");
            return 1;
        }
        return diff_msg(ma, mb, NULL, path, pathlen, diff, difflen);
    }
    case PROTOBUF_C_TYPE_STRING:
        if (strcmp(str_or_empty(*(char *const *)pa), str_or_empty(*(char *const *)pb)) == 0) {
            return 0;
        }
        break;
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *a = pa, *b = pb;
        if (a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0)) {
            return 0;
        }
        break;
    }
    default:
        if (memcmp(pa, pb, elem_size(f->type)) == 0) {
            return 0;
        }
        break;
    }
    scalar_text(f, pa, ta, sizeof(ta));
    scalar_text(f, pb, tb, sizeof(tb));
    snprintf(diff, difflen, "%s: %s vs %s", path, ta, tb);
    return 1;
}

/* Maps: same size and every key of `a` present in `b` with an equal value. */
static int diff_map(const ProtobufCFieldDescriptor *f, ProtobufCMessage *const *ea, size_t na,
                    ProtobufCMessage *const *eb, size_t nb, char *path, size_t pathlen, char *diff,
                    size_t difflen)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0];
    const ProtobufCFieldDescriptor *vf = &ed->fields[1];
    size_t base = strlen(path);

    if (na != nb) {
        snprintf(diff, difflen, "%s: map with %zu vs %zu entries", path, na, nb);
        return 1;
    }
    for (size_t i = 0; i < na; i++) {
        const char *ka = str_or_empty(*(char *const *)((const char *)ea[i] + kf->offset));
        size_t j;
        for (j = 0; j < nb; j++) {
            const char *kb = str_or_empty(*(char *const *)((const char *)eb[j] + kf->offset));
            if (strcmp(ka, kb) == 0) {
                break;
            }
        }
        snprintf(path + base, pathlen - base, "[\"%s\"]", ka);
        if (j == nb) {
            snprintf(diff, difflen, "%s: key missing from the second message", path);
            return 1;
        }
        if (diff_value(vf, (const char *)ea[i] + vf->offset, (const char *)eb[j] + vf->offset, path,
                       pathlen, diff, difflen)) {
            return 1;
        }
        path[base] = '\0';
    }
    return 0;
}

static int diff_msg(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *const *skip,
                    char *path, size_t pathlen, char *diff, size_t difflen)
{
    const ProtobufCMessageDescriptor *d = a->descriptor;
    size_t base = strlen(path);

    if (a->descriptor != b->descriptor) {
        snprintf(diff, difflen, "%s: different message types", path);
        return 1;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *pa = (const char *)a + f->offset;
        const char *pb = (const char *)b + f->offset;
        int skipped = 0;

        for (size_t s = 0; skip != NULL && skip[s] != NULL; s++) {
            skipped |= strcmp(skip[s], f->name) == 0;
        }
        if (skipped) {
            continue;
        }
        snprintf(path + base, pathlen - base, "%s%s", base ? "." : "", f->name);

        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t na = *(const size_t *)((const char *)a + f->quantifier_offset);
            size_t nb = *(const size_t *)((const char *)b + f->quantifier_offset);
            const char *arr_a = *(char *const *)pa;
            const char *arr_b = *(char *const *)pb;
            size_t es = elem_size(f->type);

            if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor)) {
                if (diff_map(f, (ProtobufCMessage *const *)arr_a, na,
                             (ProtobufCMessage *const *)arr_b, nb, path, pathlen, diff, difflen)) {
                    return 1;
                }
                path[base] = '\0';
                continue;
            }
            if (na != nb) {
                snprintf(diff, difflen, "%s: %zu vs %zu elements", path, na, nb);
                return 1;
            }
            size_t fl = strlen(path);
            for (size_t k = 0; k < na; k++) {
                snprintf(path + fl, pathlen - fl, "[%zu]", k);
                if (diff_value(f, arr_a + k * es, arr_b + k * es, path, pathlen, diff, difflen)) {
                    return 1;
                }
            }
            path[base] = '\0';
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t ca = *(const uint32_t *)((const char *)a + f->quantifier_offset);
            uint32_t cb = *(const uint32_t *)((const char *)b + f->quantifier_offset);
            int sa = ca == f->id, sb = cb == f->id;
            if (sa != sb) {
                snprintf(diff, difflen, "%s: oneof %s vs %s", path, sa ? "set" : "unset",
                         sb ? "set" : "unset");
                return 1;
            }
            if (!sa) {
                path[base] = '\0';
                continue;
            }
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
                   f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
            protobuf_c_boolean ha =
                *(const protobuf_c_boolean *)((const char *)a + f->quantifier_offset);
            protobuf_c_boolean hb =
                *(const protobuf_c_boolean *)((const char *)b + f->quantifier_offset);
            if (ha != hb) {
                snprintf(diff, difflen, "%s: has %d vs %d", path, ha, hb);
                return 1;
            }
        }
        if (diff_value(f, pa, pb, path, pathlen, diff, difflen)) {
            return 1;
        }
        path[base] = '\0';
    }
    return 0;
}

int it_pb_diff(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *const *skip,
               char *diff, size_t difflen)
{
    char path[1024] = "";
    diff[0] = '\0';
    if (a == NULL || b == NULL) {
        snprintf(diff, difflen, "(root): %s vs %s", a ? "present" : "absent",
                 b ? "present" : "absent");
        return a != b;
    }
    return diff_msg(a, b, skip, path, sizeof(path), diff, difflen);
}

const char *it_map_str(void *const *entries, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        const ProtobufCMessage *e = entries[i];
        const ProtobufCFieldDescriptor *kf =
            protobuf_c_message_descriptor_get_field_by_name(e->descriptor, "key");
        const ProtobufCFieldDescriptor *vf =
            protobuf_c_message_descriptor_get_field_by_name(e->descriptor, "value");
        const char *k = *(char *const *)((const char *)e + kf->offset);
        if (strcmp(str_or_empty(k), key) == 0) {
            return str_or_empty(*(char *const *)((const char *)e + vf->offset));
        }
    }
    return NULL;
}

/* ---- DesiredLRP helpers ---------------------------------------------------------------- */

void it_dlrp_init(struct it_dlrp *d, const char *guid, int32_t instances)
{
    static const Models__DesiredLRP lrp_init = MODELS__DESIRED_LRP__INIT;
    static const Models__Action action_init = MODELS__ACTION__INIT;
    static const Models__RunAction run_init = MODELS__RUN_ACTION__INIT;
    static const Models__DesiredLRP__MetricTagsEntry tag_init =
        MODELS__DESIRED_LRP__METRIC_TAGS_ENTRY__INIT;
    static const Models__MetricTagValue value_init = MODELS__METRIC_TAG_VALUE__INIT;

    memset(d, 0, sizeof(*d));
    snprintf(d->guid, sizeof(d->guid), "%s", guid);
    d->lrp = lrp_init;
    d->action = action_init;
    d->run = run_init;
    d->tag = tag_init;
    d->tag_value = value_init;

    d->run.path = IT_S("/bin/app");
    d->run.user = IT_S("vcap");
    d->action.run_action = &d->run;
    d->tag_value.static_ = d->guid;
    d->tag.key = IT_S("source_id");
    d->tag.value = &d->tag_value;
    d->tags[0] = &d->tag;

    d->lrp.process_guid = d->guid;
    d->lrp.domain = IT_S(IT_DOMAIN);
    d->lrp.root_fs = IT_S(IT_ROOTFS);
    d->lrp.instances = instances;
    d->lrp.action = &d->action;
    d->lrp.memory_mb = 256;
    d->lrp.disk_mb = 1024;
    d->lrp.n_metric_tags = 1;
    d->lrp.metric_tags = d->tags;
}

int it_desire_lrp(const Models__DesiredLRP *lrp)
{
    Models__DesireLRPRequest req = MODELS__DESIRE_LRPREQUEST__INIT;
    req.desired_lrp = (Models__DesiredLRP *)lrp;
    return it_call_err("/v1/desired_lrp/desire.r2", &req.base,
                       &models__desired_lrplifecycle_response__descriptor);
}

void it_desire(const char *guid, const char *domain, int32_t instances)
{
    struct it_dlrp d;
    Models__DesireLRPRequest req = MODELS__DESIRE_LRPREQUEST__INIT;
    void *resp;

    it_dlrp_init(&d, guid, instances);
    if (domain != NULL) {
        d.lrp.domain = (char *)domain;
    }
    req.desired_lrp = &d.lrp;
    resp = it_call("/v1/desired_lrp/desire.r2", &req.base,
                   &models__desired_lrplifecycle_response__descriptor);
    if (it_err_type(resp) != IT_OK) {
        fail_msg("desire %s: error %d \"%s\"", guid, it_err_type(resp), it_err_msg(resp));
    }
    it_free(resp);
}

Models__DesiredLRPResponse *it_get_desired(const char *guid)
{
    Models__DesiredLRPByProcessGuidRequest req = MODELS__DESIRED_LRPBY_PROCESS_GUID_REQUEST__INIT;
    req.process_guid = (char *)guid;
    return it_call("/v1/desired_lrps/get_by_process_guid.r3", &req.base,
                   &models__desired_lrpresponse__descriptor);
}

int it_update_instances(const char *guid, int32_t instances)
{
    Models__UpdateDesiredLRPRequest req = MODELS__UPDATE_DESIRED_LRPREQUEST__INIT;
    Models__DesiredLRPUpdate up = MODELS__DESIRED_LRPUPDATE__INIT;
    up.optional_instances_case = MODELS__DESIRED_LRPUPDATE__OPTIONAL_INSTANCES_INSTANCES;
    up.instances = instances;
    req.process_guid = (char *)guid;
    req.update = &up;
    return it_call_err("/v1/desired_lrp/update", &req.base,
                       &models__desired_lrplifecycle_response__descriptor);
}

int it_remove_desired(const char *guid)
{
    Models__RemoveDesiredLRPRequest req = MODELS__REMOVE_DESIRED_LRPREQUEST__INIT;
    req.process_guid = (char *)guid;
    return it_call_err("/v1/desired_lrp/remove", &req.base,
                       &models__desired_lrplifecycle_response__descriptor);
}

/* ---- ActualLRP helpers --------------------------------------------------------------- */

#define LIFECYCLE (&models__actual_lrplifecycle_response__descriptor)

int it_claim(const char *guid, int32_t index, const char *instance_guid, const char *cell_id)
{
    Models__ClaimActualLRPRequest req = MODELS__CLAIM_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    ik.instance_guid = (char *)instance_guid;
    ik.cell_id = (char *)cell_id;
    req.process_guid = (char *)guid;
    req.index = index;
    req.actual_lrp_instance_key = &ik;
    return it_call_err("/v1/actual_lrps/claim", &req.base, LIFECYCLE);
}

int it_start(const char *guid, int32_t index, const char *domain, const char *instance_guid,
             const char *cell_id, const char *address)
{
    Models__StartActualLRPRequest req = MODELS__START_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;
    Models__ActualLRPNetInfo ni = MODELS__ACTUAL_LRPNET_INFO__INIT;
    Models__PortMapping pm = MODELS__PORT_MAPPING__INIT;
    Models__PortMapping *pms[1] = {&pm};

    key.process_guid = (char *)guid;
    key.index = index;
    key.domain = (char *)(domain ? domain : IT_DOMAIN);
    ik.instance_guid = (char *)instance_guid;
    ik.cell_id = (char *)cell_id;
    ni.address = (char *)address;
    pm.container_port = 8080;
    pm.host_port = 61000;
    ni.n_ports = 1;
    ni.ports = pms;
    req.actual_lrp_key = &key;
    req.actual_lrp_instance_key = &ik;
    req.actual_lrp_net_info = &ni;
    return it_call_err("/v1/actual_lrps/start.r1", &req.base, LIFECYCLE);
}

int it_crash(const char *guid, int32_t index, const char *domain, const char *instance_guid,
             const char *cell_id, const char *message)
{
    Models__CrashActualLRPRequest req = MODELS__CRASH_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;

    key.process_guid = (char *)guid;
    key.index = index;
    key.domain = (char *)(domain ? domain : IT_DOMAIN);
    ik.instance_guid = (char *)instance_guid;
    ik.cell_id = (char *)cell_id;
    req.actual_lrp_key = &key;
    req.actual_lrp_instance_key = &ik;
    req.error_message = (char *)(message ? message : "");
    return it_call_err("/v1/actual_lrps/crash", &req.base, LIFECYCLE);
}

int it_fail(const char *guid, int32_t index, const char *domain, const char *message)
{
    Models__FailActualLRPRequest req = MODELS__FAIL_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;

    key.process_guid = (char *)guid;
    key.index = index;
    key.domain = (char *)(domain ? domain : IT_DOMAIN);
    req.actual_lrp_key = &key;
    req.error_message = (char *)message;
    return it_call_err("/v1/actual_lrps/fail", &req.base, LIFECYCLE);
}

int it_remove_actual(const char *guid, int32_t index, const char *instance_guid,
                     const char *cell_id)
{
    Models__RemoveActualLRPRequest req = MODELS__REMOVE_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPInstanceKey ik = MODELS__ACTUAL_LRPINSTANCE_KEY__INIT;

    req.process_guid = (char *)guid;
    req.index = index;
    if (instance_guid != NULL) {
        ik.instance_guid = (char *)instance_guid;
        ik.cell_id = (char *)(cell_id ? cell_id : "");
        req.actual_lrp_instance_key = &ik;
    }
    return it_call_err("/v1/actual_lrps/remove", &req.base, LIFECYCLE);
}

int it_retire(const char *guid, int32_t index, const char *domain)
{
    Models__RetireActualLRPRequest req = MODELS__RETIRE_ACTUAL_LRPREQUEST__INIT;
    Models__ActualLRPKey key = MODELS__ACTUAL_LRPKEY__INIT;

    key.process_guid = (char *)guid;
    key.index = index;
    key.domain = (char *)(domain ? domain : IT_DOMAIN);
    req.actual_lrp_key = &key;
    return it_call_err("/v1/actual_lrps/retire", &req.base, LIFECYCLE);
}

Models__ActualLRPsResponse *it_list_actuals(const char *guid)
{
    Models__ActualLRPsRequest req = MODELS__ACTUAL_LRPS_REQUEST__INIT;
    Models__ActualLRPsResponse *resp;

    req.process_guid = (char *)guid;
    resp = it_call("/v1/actual_lrps/list", &req.base, &models__actual_lrps_response__descriptor);
    if (it_err_type(resp) != IT_OK) {
        fail_msg("actual_lrps/list %s: error %d \"%s\"", guid, it_err_type(resp), it_err_msg(resp));
    }
    return resp;
}

const Models__ActualLRP *it_find_actual(const Models__ActualLRPsResponse *r, int32_t index,
                                        int presence)
{
    for (size_t i = 0; i < r->n_actual_lrps; i++) {
        const Models__ActualLRP *a = r->actual_lrps[i];
        if (a->actual_lrp_key != NULL && a->actual_lrp_key->index == index &&
            (int)a->presence == presence) {
            return a;
        }
    }
    return NULL;
}

static void copy_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", str_or_empty(src));
}

int it_actual(const char *guid, int32_t index, struct it_alrp *out)
{
    Models__ActualLRPsResponse *r = it_list_actuals(guid);
    const Models__ActualLRP *a = it_find_actual(r, index, MODELS__ACTUAL_LRP__PRESENCE__ORDINARY);

    memset(out, 0, sizeof(*out));
    if (a != NULL) {
        out->found = 1;
        copy_str(out->state, sizeof(out->state), a->state);
        if (a->actual_lrp_key != NULL) {
            copy_str(out->domain, sizeof(out->domain), a->actual_lrp_key->domain);
        }
        if (a->actual_lrp_instance_key != NULL) {
            copy_str(out->instance_guid, sizeof(out->instance_guid),
                     a->actual_lrp_instance_key->instance_guid);
            copy_str(out->cell_id, sizeof(out->cell_id), a->actual_lrp_instance_key->cell_id);
        }
        if (a->actual_lrp_net_info != NULL) {
            copy_str(out->address, sizeof(out->address), a->actual_lrp_net_info->address);
            out->n_ports = a->actual_lrp_net_info->n_ports;
        }
        out->crash_count = a->crash_count;
        copy_str(out->crash_reason, sizeof(out->crash_reason), a->crash_reason);
        copy_str(out->placement_error, sizeof(out->placement_error), a->placement_error);
        out->since = a->since;
        if (a->modification_tag != NULL) {
            copy_str(out->epoch, sizeof(out->epoch), a->modification_tag->epoch);
            out->mod_index = a->modification_tag->index;
        }
        out->routable_set =
            a->optional_routable_case == MODELS__ACTUAL_LRP__OPTIONAL_ROUTABLE_ROUTABLE;
        out->routable = out->routable_set && a->routable;
        copy_str(out->availability_zone, sizeof(out->availability_zone), a->availability_zone);
        out->n_internal_routes = a->n_actual_lrp_internal_routes;
        out->n_metric_tags = a->n_metric_tags;
    }
    it_free(r);
    return out->found;
}

size_t it_actual_count(const char *guid)
{
    Models__ActualLRPsResponse *r = it_list_actuals(guid);
    size_t n = r->n_actual_lrps;
    it_free(r);
    return n;
}

void it_assert_state(const char *guid, int32_t index, const char *state, struct it_alrp *out)
{
    struct it_alrp local;
    struct it_alrp *a = out ? out : &local;
    if (!it_actual(guid, index, a)) {
        fail_msg("no ordinary actual LRP %s/%d (expected %s)", guid, index, state);
    }
    if (strcmp(a->state, state) != 0) {
        fail_msg("actual LRP %s/%d is %s, expected %s", guid, index, a->state, state);
    }
}

/* ---- server lifecycle ---------------------------------------------------------------- */

static int write_config(int port, int health_port, const struct it_server_opts *opts)
{
    json_t *cfg = json_object();
    char addr[64], health[64], auct[64], data_dir[700];
    const char *migrations = getenv("BBS_MIGRATIONS_DIR");
    const char *level = getenv("BBS_IT_LOG_LEVEL");
    int rc;

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    snprintf(health, sizeof(health), "127.0.0.1:%d", health_port);
    snprintf(auct, sizeof(auct), "http://127.0.0.1:%d", g.auct_port);
    snprintf(data_dir, sizeof(data_dir), "%s/data", g.tmpdir);
    json_object_set_new(cfg, "listen_address", json_string(addr));
    json_object_set_new(cfg, "health_address", json_string(health));
    json_object_set_new(cfg, "database_connection_string", json_string(g.db_conninfo));
    json_object_set_new(cfg, "auctioneer_address", json_string(auct));
    json_object_set_new(cfg, "log_level", json_string(level && level[0] ? level : "info"));
    json_object_set_new(cfg, "data_dir", json_string(data_dir));
    if (migrations != NULL && migrations[0] != '\0') {
        json_object_set_new(cfg, "migrations_dir", json_string(migrations));
    }
    if (opts != NULL && opts->max_request_body_bytes > 0) {
        json_object_set_new(cfg, "max_request_body_bytes",
                            json_integer((json_int_t)opts->max_request_body_bytes));
    }
    if (gx.extra_config != NULL) {
        json_object_update(cfg, gx.extra_config);
    }
    rc = json_dump_file(cfg, g.config_path, JSON_INDENT(2));
    json_decref(cfg);
    if (rc != 0) {
        fprintf(stderr, "harness: cannot write %s\n", g.config_path);
        return -1;
    }
    return 0;
}

static int spawn_server(void)
{
    const char *bin = getenv("BBS_BINARY");
    posix_spawn_file_actions_t fa;
    const char *argv[16];
    int n = 0;
    int rc;

    if (bin == NULL || bin[0] == '\0') {
        fprintf(stderr, "harness: BBS_BINARY is not set\n");
        return -1;
    }
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "harness: BBS_BINARY %s is not executable\n", bin);
        return -1;
    }
    if (g.valgrind) {
        argv[n++] = "valgrind";
        argv[n++] = "--leak-check=full";
        argv[n++] = "--errors-for-leak-kinds=definite";
        argv[n++] = "--error-exitcode=99";
        argv[n++] = "--quiet";
    }
    argv[n++] = bin;
    argv[n++] = "-config";
    argv[n++] = g.config_path;
    argv[n] = NULL;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, g.log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addclose(&fa, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    rc = posix_spawnp(&g.pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "harness: cannot start %s: %s\n", argv[0], strerror(rc));
        g.pid = 0;
        return -1;
    }
    return 0;
}

/* 0 when ready, 1 when the child exited early (retry), -1 on timeout. */
static int wait_ready(void)
{
    int64_t deadline = mono_ms() + (g.valgrind ? 60000 : 15000);
    struct it_client *c = it_client_new();
    int ret = -1;

    for (;;) {
        struct it_resp r;
        char err[512];
        int status;
        pid_t w = waitpid(g.pid, &status, WNOHANG);

        if (w == g.pid) {
            fprintf(stderr, "harness: server exited during start-up (status 0x%x)\n", status);
            g.pid = 0;
            ret = 1;
            break;
        }
        if (it_client_request(c, "POST", "/v1/ping", NULL, 0, NULL, 0, &r, err, sizeof(err)) == 0) {
            int ok = r.status == 200 && r.len == 2 && r.body[0] == 0x08 && r.body[1] == 0x01;
            it_resp_free(&r);
            if (ok) {
                ret = 0;
                break;
            }
        }
        if (mono_ms() >= deadline) {
            fprintf(stderr, "harness: no successful /v1/ping within %d s\n", g.valgrind ? 60 : 15);
            break;
        }
        it_sleep_ms(50);
    }
    it_client_free(c);
    return ret;
}

static void kill_server(void)
{
    if (g.pid > 0) {
        int status;
        kill(g.pid, SIGKILL);
        waitpid(g.pid, &status, 0);
        g.pid = 0;
    }
}

int it_server_start(const char *name, const struct it_server_opts *opts)
{
    const char *vg = getenv("BBS_VALGRIND");
    const char *tmp = getenv("TMPDIR");
    int attempt;

    snprintf(g.name, sizeof(g.name), "%s", name);
    g.valgrind = vg != NULL && strcmp(vg, "1") == 0 && !gx.no_valgrind;
    g.failed = 0;
    /* curl's global init is not thread-safe: do it before any worker thread exists */
    curl_global_init(CURL_GLOBAL_ALL);
    signal(SIGPIPE, SIG_IGN);

    snprintf(g.tmpdir, sizeof(g.tmpdir), "%s/bbs-it-%s-XXXXXX", tmp && tmp[0] ? tmp : "/tmp", name);
    if (mkdtemp(g.tmpdir) == NULL) {
        fprintf(stderr, "harness: mkdtemp %s: %s\n", g.tmpdir, strerror(errno));
        goto fail;
    }
    snprintf(g.log_path, sizeof(g.log_path), "%s/server.log", g.tmpdir);
    snprintf(g.config_path, sizeof(g.config_path), "%s/config.json", g.tmpdir);

    if (auct_start() != 0 || db_create() != 0) {
        goto fail;
    }
    for (attempt = 0; attempt < 3; attempt++) {
        int port = free_port(), health = free_port();
        int r;
        if (port < 0 || health < 0 || port == health) {
            continue;
        }
        g.port = port;
        gx.health_port = health;
        snprintf(g.base_url, sizeof(g.base_url), "%s://127.0.0.1:%d", gx.tls ? "https" : "http",
                 port);
        if (write_config(port, health, opts) != 0 || spawn_server() != 0) {
            goto fail;
        }
        r = wait_ready();
        if (r == 0) {
            break;
        }
        kill_server();
        if (r < 0) {
            goto fail;
        }
    }
    if (attempt == 3) {
        fprintf(stderr, "harness: the server did not start after 3 attempts\n");
        goto fail;
    }
    g.main_client = it_client_new();
    g.started = 1;
    return 0;

fail:
    g.failed = 1;
    print_server_log();
    kill_server();
    auct_stop();
    db_drop();
    return -1;
}

int it_server_stop(void)
{
    int status = 0;
    int rc = 0;
    int64_t deadline;

    it_client_free(g.main_client);
    g.main_client = NULL;
    if (g.pid > 0) {
        kill(g.pid, SIGTERM);
        deadline = mono_ms() + (g.valgrind ? 180000 : 30000);
        for (;;) {
            pid_t w = waitpid(g.pid, &status, WNOHANG);
            if (w == g.pid) {
                break;
            }
            if (mono_ms() >= deadline) {
                fprintf(stderr, "harness: server did not exit after SIGTERM; killing it\n");
                kill(g.pid, SIGKILL);
                waitpid(g.pid, &status, 0);
                rc = -1;
                break;
            }
            it_sleep_ms(50);
        }
        g.pid = 0;
        if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            if (WIFEXITED(status)) {
                fprintf(stderr, "harness: server exited with status %d%s\n", WEXITSTATUS(status),
                        WEXITSTATUS(status) == 99 ? " (valgrind found errors)" : "");
            } else if (WIFSIGNALED(status)) {
                fprintf(stderr, "harness: server killed by signal %d\n", WTERMSIG(status));
            }
            rc = -1;
        }
    }
    auct_stop();
    if (db_drop() != 0) {
        rc = -1;
    }
    free(g.admin_conninfo_src);
    g.admin_conninfo_src = NULL;
    free(g.db_conninfo);
    g.db_conninfo = NULL;
    g.started = 0;
    if (rc != 0) {
        g.failed = 1;
    }
    return rc;
}

static char g_group_name[64] = "it";

void it_set_name(const char *name)
{
    snprintf(g_group_name, sizeof(g_group_name), "%s", name);
}

int it_group_setup(void **state)
{
    (void)state;
    return it_server_start(g_group_name, NULL);
}

int it_group_teardown(void **state)
{
    (void)state;
    return it_server_stop();
}

int it_main_exit(int rc)
{
    if (rc != 0 || g.failed) {
        print_server_log();
        fprintf(stderr, "harness: server files kept in %s\n", g.tmpdir);
        return 1;
    }
    if (g.tmpdir[0] != '\0') {
        rm_rf(g.tmpdir);
    }
    curl_global_cleanup();
    return 0;
}

/* ---- direct database access (test set-up only) ------------------------------------------- */

const char *it_db_conninfo(void)
{
    return g.db_conninfo;
}

int it_db_exec(const char *sql, int n, const char *const *params)
{
    PGconn *conn = NULL;
    PGresult *res = NULL;
    ExecStatusType st;
    int rc = -1;

    if (g.db_conninfo == NULL) {
        fprintf(stderr, "harness: it_db_exec without a test database\n");
        return -1;
    }
    conn = PQconnectdb(g.db_conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "harness: cannot connect to %s: %s\n", g.dbname, PQerrorMessage(conn));
        goto out;
    }
    res = n > 0 ? PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0) : PQexec(conn, sql);
    st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK) {
        rc = PQntuples(res);
    } else if (st == PGRES_COMMAND_OK) {
        rc = atoi(PQcmdTuples(res));
    } else {
        fprintf(stderr, "harness: %s: %s\n", sql, PQerrorMessage(conn));
    }
out:
    PQclear(res);
    PQfinish(conn);
    return rc;
}

/* ---- server variants and process control ---------------------------------------------- */

void it_server_config(json_t *extra)
{
    gx.extra_config = extra;
}

void it_server_no_valgrind(int on)
{
    gx.no_valgrind = on;
}

void it_tls_client(const char *ca_file, const char *cert_file, const char *key_file)
{
    gx.tls = ca_file != NULL;
    snprintf(gx.ca_file, sizeof(gx.ca_file), "%s", ca_file != NULL ? ca_file : "");
    snprintf(gx.cert_file, sizeof(gx.cert_file), "%s", cert_file != NULL ? cert_file : "");
    snprintf(gx.key_file, sizeof(gx.key_file), "%s", key_file != NULL ? key_file : "");
}

int it_server_port(void)
{
    return g.pid > 0 ? g.port : 0;
}

int it_health_port(void)
{
    return g.pid > 0 ? gx.health_port : 0;
}

int it_server_pid(void)
{
    return (int)g.pid;
}

int it_server_wait_exit(int timeout_ms, int *status)
{
    int64_t deadline = mono_ms() + timeout_ms;

    if (g.pid <= 0) {
        return -1;
    }
    for (;;) {
        pid_t w = waitpid(g.pid, status, WNOHANG);

        if (w == g.pid) {
            g.pid = 0;
            return 0;
        }
        if (mono_ms() >= deadline) {
            return -1;
        }
        it_sleep_ms(20);
    }
}

char *it_server_log(void)
{
    return g.log_path[0] != '\0' ? read_file(g.log_path, NULL) : NULL;
}

int it_run(const char *const *argv, const char *log_path)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = 0;
    int rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path != NULL ? log_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addclose(&fa, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "harness: cannot run %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int64_t it_mono_ms(void)
{
    return mono_ms();
}
