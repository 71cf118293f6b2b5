/*
 * harness.h - integration test harness: the real bbs binary against a real
 * PostgreSQL, driven over HTTP with libcurl.
 *
 * One server per test executable: the cmocka group setup creates a private
 * database (bbs_it_<name>_<pid>) on the fixture cluster named by
 * BBS_TEST_PGDIR, starts a stub auctioneer inside the test process, writes a
 * config file into a private temp dir and starts $BBS_BINARY on free
 * loopback ports (under valgrind when BBS_VALGRIND=1). The group teardown
 * sends SIGTERM, asserts exit status 0, and drops the database. Tests in one
 * file share the server, so every test uses its own process guids
 * (it_uniq()).
 *
 * This header only gathers the modules of tests/support/, one per concern:
 * server.h (the binary, its config and log), http.h (the libcurl client),
 * pb.h (protobuf helpers), db.h (the group's database), auctioneer.h (the
 * stub auctioneer), certs.h (a throwaway CA made with openssl for the TLS
 * tests), locket.h (a Locket stand-in over gRPC, for the cell tests),
 * rep.h (a recording stand-in rep over mutual TLS), callback.h (a recording
 * completion-callback receiver, plain or mutual TLS),
 * fixtures.h (request and model builders), util.h, and
 * dlrp_full.h (the DesiredLRP with every field, shared with the unit tests
 * and the fuzz corpus generator).
 *
 * What this harness does not do: it never reads the database to observe a
 * result (every state is observed through the API, as a client would;
 * it_db_exec is for set-up only), and it never touches src/.
 *
 * Assertions: functions documented "asserts" use cmocka assertions and must
 * only be called from the test's main thread. The it_client_* functions
 * never assert and are safe in worker threads (one client per thread).
 */
#ifndef BBS_IT_HARNESS_H
#define BBS_IT_HARNESS_H

#include <setjmp.h> /* cmocka 1.1 needs these four first */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "actual_lrp.pb-c.h"
#include "actual_lrp_requests.pb-c.h"
#include "desired_lrp.pb-c.h"
#include "domains.pb-c.h"
#include "error.pb-c.h"
#include "ping.pb-c.h"

#include "support/auctioneer.h"
#include "support/callback.h"
#include "support/certs.h"
#include "support/db.h"
#include "support/dlrp_full.h"
#include "support/fixtures.h"
#include "support/http.h"
#include "support/locket.h"
#include "support/pb.h"
#include "support/rep.h"
#include "support/server.h"
#include "support/sse.h"
#include "support/util.h"

/* SQL: is bytea column `col` sealed, in either stored form (crypt.h)? */
#define SEALED_SQL(col)                                                                            \
    "(substring(" col " FROM 1 FOR 1) = '\\x00'::bytea OR substring(" col                          \
    " FROM 1 FOR 2) = '02'::bytea)"

#endif /* BBS_IT_HARNESS_H */
