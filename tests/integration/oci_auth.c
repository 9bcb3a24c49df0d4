/* SPDX-License-Identifier: Apache-2.0 */
/* Authentication and authorisation against the real server (the /v2/
 * challenge, Bearer and Basic tokens, scopes by action and namespace,
 * --private), plus /healthz, /metrics, the access log and a clean exit on
 * SIGTERM with requests in flight. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/http.h"
#include "support/oci.h"
#include "support/server.h"

/* base64 of "user:" + a token (the Basic form docker and skopeo send). */
static void basic_header(char *out, size_t outlen, const char *user,
                         const char *token)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
	                          "stuvwxyz0123456789+/";
	char plain[256];
	size_t n, i, o;

	n = (size_t)snprintf(plain, sizeof(plain), "%s:%s", user, token);
	o = (size_t)snprintf(out, outlen, "Authorization: Basic ");
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)plain[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)plain[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)plain[i + 2];
		assert_true(o + 5 < outlen);
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
}

static long with_header(test_http_response *r, const test_server *srv,
                        const char *method, const char *path,
                        const char *header, const void *body, size_t len)
{
	const char *headers[] = {header, NULL};

	return test_request(r, srv, NULL, method, path, header ? headers : NULL,
	                    body, len);
}

static void expect_challenge(const test_http_response *r)
{
	const char *www = test_http_get_header(r, "WWW-Authenticate");

	test_assert_oci_error(r, 401, "UNAUTHORIZED");
	assert_non_null(www);
	assert_true(strncmp(www, "Basic ", 6) == 0);
	assert_non_null(strstr(www, "realm="));
}

static void test_base_endpoint(void **state)
{
	test_env *env = *state;
	test_http_response r;
	char basic[512], bearer[256];

	/* anonymous: the challenge (clients only send credentials after) */
	test_request(&r, env->server, NULL, "GET", "/v2/", NULL, NULL, 0);
	expect_challenge(&r);
	assert_string_equal(
	        test_http_get_header(&r, "Docker-Distribution-API-Version"),
	        "registry/2.0");
	test_http_response_clear(&r);
	assert_int_equal(test_request(&r, env->server, NULL, "HEAD", "/v2/",
	                              NULL, NULL, 0),
	                 401);
	assert_non_null(test_http_get_header(&r, "WWW-Authenticate"));
	test_http_response_clear(&r);
	test_request(&r, env->server, NULL, "GET", "/v2", NULL, NULL, 0);
	expect_challenge(&r);
	test_http_response_clear(&r);

	/* with a token, either form */
	assert_int_equal(test_request(&r, env->server, env->token, "GET",
	                              "/v2/", NULL, NULL, 0),
	                 200);
	assert_string_equal(
	        test_http_get_header(&r, "Docker-Distribution-API-Version"),
	        "registry/2.0");
	test_http_response_clear(&r);
	basic_header(basic, sizeof(basic), "anyone", env->token);
	assert_int_equal(
	        with_header(&r, env->server, "GET", "/v2/", basic, NULL, 0),
	        200);
	test_http_response_clear(&r);
	assert_int_equal(
	        with_header(&r, env->server, "HEAD", "/v2/", basic, NULL, 0),
	        200);
	test_http_response_clear(&r);

	/* a wrong token is refused, not treated as anonymous */
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer ureg_%064d", 0);
	with_header(&r, env->server, "GET", "/v2/", bearer, NULL, 0);
	expect_challenge(&r);
	test_http_response_clear(&r);
	with_header(&r, env->server, "GET", "/v2/", "Authorization: Basic !!",
	            NULL, 0);
	expect_challenge(&r);
	test_http_response_clear(&r);
}

static void test_push_needs_token(void **state)
{
	test_env *env = *state;
	const char *const other_scope[] = {"push:other", NULL};
	const char *const pull_scope[] = {"pull:*", NULL};
	const char *const acme_scope[] = {"push:acme", NULL};
	char *other = test_server_token(env->server, other_scope);
	char *pull = test_server_token(env->server, pull_scope);
	char *acme = test_server_token(env->server, acme_scope);
	char digest[TEST_DIGEST_LEN + 1], path[512], basic[512];
	test_http_response r;

	test_digest(digest, "auth", 4);
	snprintf(path, sizeof(path), "/v2/acme/app/blobs/uploads/?digest=%s",
	         digest);

	/* no token: challenged */
	test_request(&r, env->server, NULL, "POST", path, NULL, "auth", 4);
	expect_challenge(&r);
	test_http_response_clear(&r);
	test_request(&r, env->server, NULL, "POST",
	             "/v2/acme/app/blobs/uploads/", NULL, NULL, 0);
	expect_challenge(&r);
	test_http_response_clear(&r);
	/* empty Basic credentials are no credentials */
	with_header(&r, env->server, "POST", path,
	            "Authorization: Basic Og==", "auth", 4);
	expect_challenge(&r);
	test_http_response_clear(&r);
	/* another namespace, or pull only: forbidden */
	test_request(&r, env->server, other, "POST", path, NULL, "auth", 4);
	test_assert_oci_error(&r, 403, "DENIED");
	test_http_response_clear(&r);
	test_request(&r, env->server, pull, "POST", path, NULL, "auth", 4);
	test_assert_oci_error(&r, 403, "DENIED");
	test_http_response_clear(&r);
	test_request(&r, env->server, pull, "PUT", "/v2/acme/app/manifests/v1",
	             NULL, "{}", 2);
	test_assert_oci_error(&r, 403, "DENIED");
	test_http_response_clear(&r);
	/* a prefix that is not a path segment is another namespace */
	snprintf(path, sizeof(path), "/v2/acmex/app/blobs/uploads/?digest=%s",
	         digest);
	test_request(&r, env->server, acme, "POST", path, NULL, "auth", 4);
	test_assert_oci_error(&r, 403, "DENIED");
	test_http_response_clear(&r);
	snprintf(path, sizeof(path), "/v2/acme/app/blobs/%s", digest);
	test_request(&r, env->server, NULL, "GET", path, NULL, NULL, 0);
	test_assert_oci_error(&r, 404, "BLOB_UNKNOWN");
	test_http_response_clear(&r);

	/* the right namespace, Bearer and Basic alike */
	test_push_blob(env->server, acme, "acme/app", "auth", 4, NULL);
	test_push_blob(env->server, acme, "acme", "auth", 4, NULL);
	basic_header(basic, sizeof(basic), "ci", acme);
	snprintf(path, sizeof(path), "/v2/acme/basic/blobs/uploads/?digest=%s",
	         digest);
	assert_int_equal(
	        with_header(&r, env->server, "POST", path, basic, "auth", 4),
	        201);
	test_http_response_clear(&r);

	/* deletes need push as well */
	snprintf(path, sizeof(path), "/v2/acme/app/blobs/%s", digest);
	test_request(&r, env->server, NULL, "DELETE", path, NULL, NULL, 0);
	expect_challenge(&r);
	test_http_response_clear(&r);
	test_request(&r, env->server, pull, "DELETE", path, NULL, NULL, 0);
	test_assert_oci_error(&r, 403, "DENIED");
	test_http_response_clear(&r);
	assert_int_equal(test_request(&r, env->server, acme, "DELETE", path,
	                              NULL, NULL, 0),
	                 202);
	test_http_response_clear(&r);
	free(other);
	free(pull);
	free(acme);
}

static void test_public_pulls(void **state)
{
	test_env *env = *state;
	char digest[TEST_DIGEST_LEN + 1], path[512], bearer[256];
	test_http_response r;
	static const char *const empties[] = {
	        "Authorization: Basic Og==",     /* ":" */
	        "Authorization: Basic dXNlcjo=", /* "user:" */
	        "Authorization: Basic ",         /* "" */
	};
	size_t i;

	test_push_image(env->server, env->token, "pub/app", "v1", "pub",
	                "public layer", digest, NULL);
	snprintf(path, sizeof(path), "/v2/pub/app/manifests/%s", digest);
	assert_int_equal(
	        test_request(&r, env->server, NULL, "GET", path, NULL, NULL, 0),
	        200);
	test_http_response_clear(&r);
	assert_int_equal(test_request(&r, env->server, NULL, "GET",
	                              "/v2/pub/app/tags/list", NULL, NULL, 0),
	                 200);
	test_http_response_clear(&r);
	assert_int_equal(test_request(&r, env->server, NULL, "GET",
	                              "/v2/_catalog", NULL, NULL, 0),
	                 200);
	test_http_response_clear(&r);
	/* empty Basic credentials pull anonymously */
	for (i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		if (with_header(&r, env->server, "GET", path, empties[i], NULL,
		                0) != 200)
			fail_msg("%s: %ld %s", empties[i], r.status, r.body);
		test_http_response_clear(&r);
	}
	/* a bad token is still refused on a public read */
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer ureg_%064d", 7);
	with_header(&r, env->server, "GET", path, bearer, NULL, 0);
	expect_challenge(&r);
	test_http_response_clear(&r);
}

static void test_private(void **state)
{
	static const char *const args[] = {"--private", NULL};
	const char *const push_scope[] = {"push:priv", NULL};
	const char *const pull_scope[] = {"pull:priv", NULL};
	const char *const pull_all[] = {"pull:*", NULL};
	const char *const other_scope[] = {"push:other", NULL};
	test_server *srv = test_server_start(args);
	char *push = test_server_token(srv, push_scope);
	char *pull = test_server_token(srv, pull_scope);
	char *all = test_server_token(srv, pull_all);
	char *other = test_server_token(srv, other_scope);
	char digest[TEST_DIGEST_LEN + 1], blob[TEST_DIGEST_LEN + 1];
	char path[512], basic[512];
	test_http_response r;

	(void)state;
	test_push_image(srv, push, "priv/app", "v1", "private", "private layer",
	                digest, NULL);
	test_push_blob(srv, push, "priv/app", "secret", 6, blob);

	/* anonymous reads are challenged */
	test_request(&r, srv, NULL, "GET", "/v2/priv/app/manifests/v1", NULL,
	             NULL, 0);
	expect_challenge(&r);
	test_http_response_clear(&r);
	snprintf(path, sizeof(path), "/v2/priv/app/blobs/%s", blob);
	test_request(&r, srv, NULL, "GET", path, NULL, NULL, 0);
	expect_challenge(&r);
	test_http_response_clear(&r);
	with_header(&r, srv, "GET", path, "Authorization: Basic Og==", NULL, 0);
	expect_challenge(&r);
	test_http_response_clear(&r);
	test_request(&r, srv, NULL, "GET", "/v2/priv/app/tags/list", NULL, NULL,
	             0);
	expect_challenge(&r);
	test_http_response_clear(&r);
	test_request(&r, srv, NULL, "GET", "/v2/_catalog", NULL, NULL, 0);
	expect_challenge(&r);
	test_http_response_clear(&r);
	snprintf(path, sizeof(path), "/v2/priv/app/referrers/%s", digest);
	test_request(&r, srv, NULL, "GET", path, NULL, NULL, 0);
	expect_challenge(&r);
	test_http_response_clear(&r);

	/* a token for the namespace reads, in both forms */
	assert_int_equal(test_request(&r, srv, pull, "GET",
	                              "/v2/priv/app/manifests/v1", NULL, NULL,
	                              0),
	                 200);
	test_http_response_clear(&r);
	basic_header(basic, sizeof(basic), "reader", pull);
	snprintf(path, sizeof(path), "/v2/priv/app/blobs/%s", blob);
	assert_int_equal(with_header(&r, srv, "GET", path, basic, NULL, 0),
	                 200);
	assert_string_equal(r.body, "secret");
	test_http_response_clear(&r);
	/* push implies pull */
	assert_int_equal(test_request(&r, srv, push, "GET",
	                              "/v2/priv/app/tags/list", NULL, NULL, 0),
	                 200);
	test_http_response_clear(&r);
	/* another namespace's token does not */
	test_request(&r, srv, other, "GET", "/v2/priv/app/manifests/v1", NULL,
	             NULL, 0);
	test_assert_oci_error(&r, 403, "DENIED");
	test_http_response_clear(&r);
	/* the catalog lists what the token may pull: priv/app for pull:priv
	 * and pull:*, nothing for another namespace's token */
	assert_int_equal(test_request(&r, srv, pull, "GET", "/v2/_catalog",
	                              NULL, NULL, 0),
	                 200);
	assert_string_equal(r.body, "{\"repositories\":[\"priv/app\"]}");
	test_http_response_clear(&r);
	assert_int_equal(test_request(&r, srv, other, "GET", "/v2/_catalog",
	                              NULL, NULL, 0),
	                 200);
	assert_string_equal(r.body, "{\"repositories\":[]}");
	test_http_response_clear(&r);
	assert_int_equal(test_request(&r, srv, all, "GET", "/v2/_catalog", NULL,
	                              NULL, 0),
	                 200);
	assert_non_null(strstr(r.body, "priv/app"));
	test_http_response_clear(&r);

	/* a mount may not read what the token could not pull: it becomes
	 * a plain upload session instead */
	snprintf(path, sizeof(path),
	         "/v2/other/app/blobs/uploads/?mount=%s&from=priv/app", blob);
	assert_int_equal(
	        test_request(&r, srv, other, "POST", path, NULL, NULL, 0), 202);
	test_http_response_clear(&r);
	snprintf(path, sizeof(path), "/v2/other/app/blobs/%s", blob);
	test_request(&r, srv, other, "GET", path, NULL, NULL, 0);
	test_assert_oci_error(&r, 404, "BLOB_UNKNOWN");
	test_http_response_clear(&r);

	/* health stays open */
	assert_int_equal(
	        test_request(&r, srv, NULL, "GET", "/healthz", NULL, NULL, 0),
	        200);
	test_http_response_clear(&r);

	assert_int_equal(test_server_stop(srv), 0);
	test_server_free(srv);
	free(push);
	free(pull);
	free(all);
	free(other);
}

/* The value of the first metrics line starting with `name`. */
static unsigned long long metric(const test_env *env, const char *name)
{
	test_http_response r;
	const char *p;
	unsigned long long v;

	assert_int_equal(test_request(&r, env->server, NULL, "GET", "/metrics",
	                              NULL, NULL, 0),
	                 200);
	assert_non_null(
	        strstr(test_http_get_header(&r, "Content-Type"), "text/plain"));
	for (p = r.body; p && *p;
	     p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, strlen(name)) == 0 &&
		    p[strlen(name)] == ' ')
			break;
	if (!p || !*p)
		fail_msg("no metric %s in:\n%s", name, r.body);
	v = strtoull(p + strlen(name) + 1, NULL, 10);
	test_http_response_clear(&r);
	return v;
}

static void test_health_and_metrics(void **state)
{
	test_env *env = *state;
	test_http_response r;
	unsigned long long req0, ok0, nf0, rx0, req1, ok1, nf1, rx1;
	int i;

	assert_int_equal(test_request(&r, env->server, NULL, "GET", "/healthz",
	                              NULL, NULL, 0),
	                 200);
	assert_non_null(strstr(r.body, "ok"));
	test_http_response_clear(&r);

	req0 = metric(env, "ureg_http_requests_total");
	ok0 = metric(env, "ureg_http_responses_total{code=\"2xx\"}");
	nf0 = metric(env, "ureg_http_responses_total{code=\"4xx\"}");
	rx0 = metric(env, "ureg_http_received_bytes_total");
	for (i = 0; i < 3; i++) {
		test_request(&r, env->server, NULL, "GET", "/healthz", NULL,
		             NULL, 0);
		test_http_response_clear(&r);
		test_request(&r, env->server, NULL, "GET",
		             "/v2/metrics/none/manifests/v1", NULL, NULL, 0);
		assert_int_equal(r.status, 404);
		test_http_response_clear(&r);
	}
	test_push_blob(env->server, env->token, "metrics/app", "0123456789", 10,
	               NULL);
	req1 = metric(env, "ureg_http_requests_total");
	ok1 = metric(env, "ureg_http_responses_total{code=\"2xx\"}");
	nf1 = metric(env, "ureg_http_responses_total{code=\"4xx\"}");
	rx1 = metric(env, "ureg_http_received_bytes_total");
	/* 6 + 1 requests, plus the metrics reads themselves */
	assert_true(req1 >= req0 + 7);
	assert_true(ok1 >= ok0 + 4);
	assert_true(nf1 >= nf0 + 3);
	assert_true(rx1 >= rx0 + 10);
	assert_true(metric(env, "ureg_start_time_seconds") > 1600000000ull);
}

static void test_access_log(void **state)
{
	test_env *env = *state;
	test_http_response r;
	char *log = NULL;
	FILE *f;
	long n;
	int tries;

	test_request(&r, env->server, NULL, "GET",
	             "/v2/logged/app/manifests/marker", NULL, NULL, 0);
	test_http_response_clear(&r);
	/* the drain thread copies the server's stdout into the log file */
	for (tries = 0; tries < 500; tries++) {
		free(log);
		log = NULL;
		if ((f = fopen(env->server->log_path, "r")) != NULL) {
			fseek(f, 0, SEEK_END);
			n = ftell(f);
			rewind(f);
			log = calloc(1, (size_t)n + 1);
			assert_non_null(log);
			if (fread(log, 1, (size_t)n, f) != (size_t)n)
				n = 0;
			fclose(f);
			if (strstr(log, "GET /v2/logged/app/manifests/marker "
			                "404"))
				break;
		}
		usleep(10 * 1000);
	}
	assert_non_null(log);
	assert_non_null(strstr(log, "GET /v2/logged/app/manifests/marker 404"));
	free(log);
}

static void test_sigterm_with_requests_in_flight(void **state)
{
	const char *const scopes[] = {"push:*", NULL};
	test_server *srv = test_server_start(NULL);
	char *token = test_server_token(srv, scopes);
	char head[512], tmp[4096];
	struct timespec t0, t1;
	int idle, busy, n;

	(void)state;
	/* one idle keep-alive connection, one upload stuck mid-body */
	idle = test_raw_connect(srv->url);
	busy = test_raw_connect(srv->url);
	n = snprintf(head, sizeof(head),
	             "POST /v2/stop/app/blobs/uploads/?digest=sha256:%064d "
	             "HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
	             "Content-Length: 100000\r\n\r\n",
	             0, token);
	assert_int_equal(test_raw_send(busy, head, (size_t)n), 0);
	assert_int_equal(test_raw_send(busy, "partial", 7), 0);
	usleep(200 * 1000);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(test_server_stop(srv), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* the grace period is 5 s; it must not hang past it for long */
	assert_true(t1.tv_sec - t0.tv_sec < 15);
	/* the cut-off upload left nothing behind */
	snprintf(tmp, sizeof(tmp), "%s/tmp", srv->root);
	assert_int_equal(test_count_files(tmp), 0);
	snprintf(tmp, sizeof(tmp), "%s/blobs", srv->root);
	assert_int_equal(test_count_files(tmp), 0);
	close(idle);
	close(busy);
	test_server_free(srv);
	free(token);
}

static void test_sigint_and_restart(void **state)
{
	const char *const scopes[] = {"push:*", NULL};
	test_server *srv = test_server_start(NULL);
	char *token = test_server_token(srv, scopes);
	char digest[TEST_DIGEST_LEN + 1], path[512];
	const char *argv[5];
	test_http_response r;
	char *manifest = NULL, *out = NULL;
	int status;

	(void)state;
	test_push_image(srv, token, "restart/app", "v1", "restart",
	                "survives a restart", digest, &manifest);
	/* SIGINT stops it as cleanly as SIGTERM */
	assert_int_equal(test_server_kill(srv, SIGINT), 0);
	/* fsck finds the root clean */
	argv[0] = getenv("UREG_BIN");
	argv[1] = "fsck";
	argv[2] = "--root";
	argv[3] = srv->root;
	argv[4] = NULL;
	status = test_run(&out, argv);
	if (status != 0)
		fail_msg("fsck exited %d: %s", status, out ? out : "");
	free(out);
	/* and everything is still there after a restart, token included */
	test_server_restart(srv, NULL);
	assert_int_equal(test_request(&r, srv, NULL, "GET",
	                              "/v2/restart/app/manifests/v1", NULL,
	                              NULL, 0),
	                 200);
	assert_string_equal(r.body, manifest);
	assert_string_equal(test_http_get_header(&r, "Docker-Content-Digest"),
	                    digest);
	test_http_response_clear(&r);
	snprintf(path, sizeof(path), "/v2/restart/app/blobs/uploads/");
	assert_int_equal(
	        test_request(&r, srv, token, "POST", path, NULL, NULL, 0), 202);
	test_http_response_clear(&r);
	assert_int_equal(test_server_stop(srv), 0);
	test_server_free(srv);
	free(manifest);
	free(token);
}

/* A second server on a port that is in use fails at once, naming the
 * address; it does not share the port (SO_REUSEPORT would let the kernel
 * split the requests between two registries). */
static void test_port_in_use(void **state)
{
	test_server *srv = test_server_start(NULL);
	char listen[64], root[512], *out = NULL;
	const char *argv[7];
	int status;

	(void)state;
	snprintf(listen, sizeof(listen), "%s", srv->url + strlen("http://"));
	snprintf(root, sizeof(root), "%s/other", srv->root);
	/* stderr too; a server that did start would serve until the timeout */
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = "exec /usr/bin/timeout 5 \"$0\" serve --root \"$1\" "
	          "--listen \"$2\" 2>&1";
	argv[3] = getenv("UREG_BIN");
	argv[4] = root;
	argv[5] = listen;
	argv[6] = NULL;
	status = test_run(&out, (const char *const *)argv);
	if (status == 0 || !out || !strstr(out, "cannot listen on") ||
	    !strstr(out, listen))
		fail_msg("second server on %s: exit %d, output: %s", listen,
		         status, out ? out : "");
	free(out);
	test_server_free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_base_endpoint),
	        cmocka_unit_test(test_push_needs_token),
	        cmocka_unit_test(test_public_pulls),
	        cmocka_unit_test(test_private),
	        cmocka_unit_test(test_health_and_metrics),
	        cmocka_unit_test(test_access_log),
	        cmocka_unit_test(test_sigterm_with_requests_in_flight),
	        cmocka_unit_test(test_sigint_and_restart),
	        cmocka_unit_test(test_port_in_use),
	};
	return cmocka_run_group_tests(tests, test_env_setup, test_env_teardown);
}
