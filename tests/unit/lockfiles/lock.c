/* SPDX-License-Identifier: Apache-2.0 */
/* ureg.lock: fixed expected bytes for a small lock, byte-identical round
 * trips, output independent of insertion order, each malformed field
 * refused with its own message, caps, and durable save/load. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lockfiles/lock.h"
#include "support/tmpdir.h"

#define X4(h) h h h h
#define X8(h) h h h h h h h h
/* 32 bytes of `h` as 64 hex digits */
#define HEX(h) X4(X8(h))
#define SHA(h) "\"sha256:" HEX(h) "\""

/* What test_build(0) must produce, byte for byte. */
static const char golden[] =
        "{\n"
        "  \"images\": {\n"
        "    \"web\": {\n"
        "      \"digest\": " SHA(
                "c1") ",\n"
                      "      \"ref\": \"acme/web@2.0.0\",\n"
                      "      \"target\": \"hvt\"\n"
                      "    }\n"
                      "  },\n"
                      "  \"lock-version\": 1,\n"
                      "  \"log-checkpoint\": \"log.example\\n7\\nabc=\\n\",\n"
                      "  \"packages\": {\n"
                      "    \"mirage/tcpip\": {\n"
                      "      \"config\": " SHA(
                              "a2") ",\n"
                                    "      \"layer\": " SHA(
                                            "a3") ",\n"
                                                  "      \"layer-size\": "
                                                  "4096,\n"
                                                  "      \"manifest\": " SHA(
                                                          "a1") ",\n"
                                                                "      "
                                                                "\"signer\": "
                                                                "\"ECDAB8967452"
                                                                "301\",\n"
                                                                "      "
                                                                "\"targets\": "
                                                                "[\n"
                                                                "        "
                                                                "\"hvt\",\n"
                                                                "        "
                                                                "\"unix\"\n"
                                                                "      ],\n"
                                                                "      "
                                                                "\"tree\":"
                                                                " " SHA("a4") ",\n"
                                                                              "      \"version\": \"7.1.2\"\n"
                                                                              "    },\n"
                                                                              "    \"posix/sockets\": {\n"
                                                                              "      \"config\": " SHA(
                                                                                      "b2") ",\n"
                                                                                            "      \"layer\": " SHA(
                                                                                                    "b3") ",\n"
                                                                                                          "      \"layer-size\": 123,\n"
                                                                                                          "      \"log-index\": 42,\n"
                                                                                                          "      \"manifest\": " SHA(
                                                                                                                  "b1") ",\n"
                                                                                                                        "      \"signer\": \"1F\",\n"
                                                                                                                        "      \"targets\": [\n"
                                                                                                                        "        \"unix\"\n"
                                                                                                                        "      ],\n"
                                                                                                                        "      \"tree\": " SHA(
                                                                                                                                "b4") ",\n"
                                                                                                                                      "      \"version\": \"1.0.0\"\n"
                                                                                                                                      "    }\n"
                                                                                                                                      "  },\n"
                                                                                                                                      "  \"project-digest\": " SHA(
                                                                                                                                              "11") ",\n"
                                                                                                                                                    "  \"registry\": \"http://127.0.0.1:5000\",\n"
                                                                                                                                                    "  \"roots\": {\n"
                                                                                                                                                    "    \"hvt\": [\n"
                                                                                                                                                    "      \"mirage/tcpip\"\n"
                                                                                                                                                    "    ],\n"
                                                                                                                                                    "    \"unix\": [\n"
                                                                                                                                                    "      \"mirage/tcpip\",\n"
                                                                                                                                                    "      \"posix/sockets\"\n"
                                                                                                                                                    "    ]\n"
                                                                                                                                                    "  }\n"
                                                                                                                                                    "}\n";

/* The golden lock compact, with members and arrays in another order. */
static const char shuffled
        [] = "{\"roots\": {\"unix\": [\"posix/sockets\", \"mirage/tcpip\"], "
             "\"hvt\": [\"mirage/tcpip\"]}, "
             "\"registry\": \"http://127.0.0.1:5000\", "
             "\"project-digest\": " SHA(
                     "11") ", "
                           "\"packages\": {"
                           "\"posix/sockets\": {\"version\": \"1.0.0\", "
                           "\"tree\": " SHA(
                                   "b4") ", \"targets\": [\"unix\"], "
                                         "\"signer\": \"1F\", "
                                         "\"manifest\": " SHA(
                                                 "b1") ", "
                                                       "\"log-index\": 42, "
                                                       "\"layer-size\": 123, "
                                                       "\"layer\": " SHA("b3") ", \"config\": " SHA(
                                                               "b2") "}, "
                                                                     "\"mirage/"
                                                                     "tcpip\": "
                                                                     "{\"versio"
                                                                     "n\": "
                                                                     "\"7.1."
                                                                     "2\", "
                                                                     "\"tree\":"
                                                                     " " SHA("a"
                                                                             "4") ", \"targets\": [\"unix\", \"hvt\"], "
                                                                                  "\"signer\": \"ECDAB8967452301\", \"manifest\": " SHA(
                                                                                          "a1") ", "
                                                                                                "\"layer-size\": 4096, \"layer\": " SHA(
                                                                                                        "a3") ", "
                                                                                                              "\"config\": " SHA(
                                                                                                                      "a2") "}}, "
                                                                                                                            "\"log-checkpoint\": \"log.example\\n7\\nabc=\\n\", "
                                                                                                                            "\"lock-version\": 1, "
                                                                                                                            "\"images\": {\"web\": {\"target\": \"hvt\", "
                                                                                                                            "\"ref\": \"acme/web@2.0.0\", \"digest\": " SHA(
                                                                                                                                    "c1") "}}}";

static ureg_digest D(int byte)
{
	ureg_digest d;

	memset(d.bytes, byte, sizeof(d.bytes));
	return d;
}

static const char *const targets_a[] = {"unix", "hvt"};
static const char *const targets_a_rev[] = {"hvt", "unix"};
static const char *const targets_b[] = {"unix"};

static ureg_lock_package pkg_a(int reverse)
{
	ureg_lock_package p = {
	        "mirage/tcpip",
	        "7.1.2",
	        D(0xa1),
	        D(0xa2),
	        D(0xa3),
	        4096,
	        D(0xa4),
	        "ECDAB8967452301",
	        -1,
	        reverse ? targets_a_rev : targets_a,
	        2,
	};
	return p;
}

static ureg_lock_package pkg_b(void)
{
	ureg_lock_package p = {
	        "posix/sockets", "1.0.0", D(0xb1), D(0xb2),   D(0xb3), 123,
	        D(0xb4),         "1F",    42,      targets_b, 1,
	};
	return p;
}

/* The lock of `golden`, its parts added in one order or the reverse. */
static ureg_lock *build(int reverse)
{
	ureg_digest pd = D(0x11);
	ureg_lock_image img = {"web", "acme/web@2.0.0", "hvt", D(0xc1)};
	ureg_lock_package a = pkg_a(reverse), b = pkg_b();
	ureg_lock *lock = NULL;

	assert_int_equal(ureg_lock_new(&lock, "http://127.0.0.1:5000", &pd), 0);
	if (!reverse) {
		assert_int_equal(ureg_lock_add_package(lock, &a), 0);
		assert_int_equal(ureg_lock_add_package(lock, &b), 0);
		assert_int_equal(ureg_lock_add_target(lock, "hvt"), 0);
		assert_int_equal(ureg_lock_add_target(lock, "unix"), 0);
		assert_int_equal(ureg_lock_add_root(lock, "hvt", a.name), 0);
		assert_int_equal(ureg_lock_add_root(lock, "unix", a.name), 0);
		assert_int_equal(ureg_lock_add_root(lock, "unix", b.name), 0);
		assert_int_equal(ureg_lock_add_image(lock, &img), 0);
		assert_int_equal(ureg_lock_set_checkpoint(
		                         lock, "log.example\n7\nabc=\n"),
		                 0);
	} else {
		assert_int_equal(ureg_lock_set_checkpoint(lock, "old"), 0);
		assert_int_equal(ureg_lock_set_checkpoint(
		                         lock, "log.example\n7\nabc=\n"),
		                 0);
		assert_int_equal(ureg_lock_add_image(lock, &img), 0);
		/* Roots before their packages, twice, targets implicit. */
		assert_int_equal(ureg_lock_add_root(lock, "unix", b.name), 0);
		assert_int_equal(ureg_lock_add_root(lock, "unix", a.name), 0);
		assert_int_equal(ureg_lock_add_root(lock, "hvt", a.name), 0);
		assert_int_equal(ureg_lock_add_root(lock, "unix", b.name), 0);
		assert_int_equal(ureg_lock_add_target(lock, "unix"), 0);
		assert_int_equal(ureg_lock_add_package(lock, &b), 0);
		assert_int_equal(ureg_lock_add_package(lock, &a), 0);
	}
	return lock;
}

static char *format_ok(const ureg_lock *lock, size_t *len_out)
{
	char *text = NULL;
	size_t len = 0;

	if (ureg_lock_format(&text, &len, lock) < 0)
		fail_msg("format: %s", ureg_error_last());
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	if (len_out)
		*len_out = len;
	return text;
}

static ureg_lock *parse_ok(const char *text)
{
	ureg_lock *lock = NULL;

	if (ureg_lock_parse(&lock, text, strlen(text)) < 0)
		fail_msg("parse: %s", ureg_error_last());
	assert_non_null(lock);
	return lock;
}

static void test_golden(void **state)
{
	ureg_lock *lock = build(0);
	char *text = format_ok(lock, NULL);

	(void)state;
	assert_string_equal(text, golden);
	free(text);
	ureg_lock_free(lock);
	ureg_lock_free(NULL);
}

static void test_insertion_order(void **state)
{
	ureg_lock *lock = build(1);
	char *text = format_ok(lock, NULL);

	(void)state;
	assert_string_equal(text, golden);
	free(text);
	ureg_lock_free(lock);
}

static void test_round_trip(void **state)
{
	ureg_lock *lock = parse_ok(golden), *again;
	char *text = format_ok(lock, NULL), *text2;

	(void)state;
	assert_string_equal(text, golden);
	again = parse_ok(text);
	text2 = format_ok(again, NULL);
	assert_string_equal(text2, text);
	free(text2);
	ureg_lock_free(again);
	free(text);
	ureg_lock_free(lock);

	/* Reading accepts any member and array order and normalises it. */
	lock = parse_ok(shuffled);
	text = format_ok(lock, NULL);
	assert_string_equal(text, golden);
	free(text);
	ureg_lock_free(lock);
}

static void test_accessors(void **state)
{
	ureg_lock *lock = parse_ok(golden);
	const ureg_lock_package *p;
	const ureg_lock_image *img;
	const char *const *names;
	ureg_digest d11 = D(0x11), da3 = D(0xa3), dc1 = D(0xc1);
	size_t n;

	(void)state;
	assert_string_equal(ureg_lock_registry(lock), "http://127.0.0.1:5000");
	assert_true(ureg_digest_equal(ureg_lock_project_digest(lock), &d11));
	assert_string_equal(ureg_lock_checkpoint(lock),
	                    "log.example\n7\nabc=\n");
	assert_int_equal(ureg_lock_package_count(lock), 2);
	p = ureg_lock_package_at(lock, 0);
	assert_string_equal(p->name, "mirage/tcpip");
	assert_string_equal(p->version, "7.1.2");
	assert_true(ureg_digest_equal(&p->layer, &da3));
	assert_int_equal(p->layer_size, 4096);
	assert_string_equal(p->signer, "ECDAB8967452301");
	assert_int_equal(p->log_index, -1);
	assert_int_equal(p->ntargets, 2);
	assert_string_equal(p->targets[0], "hvt");
	assert_string_equal(p->targets[1], "unix");
	assert_null(ureg_lock_package_at(lock, 2));
	p = ureg_lock_package_find(lock, "posix/sockets");
	assert_non_null(p);
	assert_int_equal(p->log_index, 42);
	assert_null(ureg_lock_package_find(lock, "posix"));
	assert_null(ureg_lock_package_find(lock, NULL));

	assert_int_equal(ureg_lock_target_count(lock), 2);
	assert_string_equal(ureg_lock_target_at(lock, 0), "hvt");
	assert_string_equal(ureg_lock_target_at(lock, 1), "unix");
	assert_null(ureg_lock_target_at(lock, 2));
	assert_int_equal(ureg_lock_roots(&names, &n, lock, "unix"), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "mirage/tcpip");
	assert_string_equal(names[1], "posix/sockets");
	assert_int_equal(ureg_lock_roots(&names, &n, lock, "xen"),
	                 UREG_ENOTFOUND);
	assert_null(names);
	assert_int_equal(n, 0);

	assert_int_equal(ureg_lock_image_count(lock), 1);
	img = ureg_lock_image_at(lock, 0);
	assert_string_equal(img->alias, "web");
	assert_string_equal(img->ref, "acme/web@2.0.0");
	assert_string_equal(img->target, "hvt");
	assert_true(ureg_digest_equal(&img->digest, &dc1));
	assert_null(ureg_lock_image_at(lock, 1));

	/* Removing the checkpoint drops the member. */
	assert_int_equal(ureg_lock_set_checkpoint(lock, NULL), 0);
	assert_null(ureg_lock_checkpoint(lock));
	{
		char *text = format_ok(lock, NULL);
		assert_null(strstr(text, "log-checkpoint"));
		free(text);
	}
	ureg_lock_free(lock);
}

/* An empty lock: every container present, nothing else. */
static void test_empty(void **state)
{
	static const char want[] =
	        "{\n"
	        "  \"images\": {},\n"
	        "  \"lock-version\": 1,\n"
	        "  \"packages\": {},\n"
	        "  \"project-digest\": " SHA(
	                "00") ",\n"
	                      "  \"registry\": \"https://r.example.com\",\n"
	                      "  \"roots\": {\n"
	                      "    \"spt\": []\n"
	                      "  }\n"
	                      "}\n";
	ureg_digest pd = D(0);
	ureg_lock *lock = NULL, *again;
	char *text, *text2;

	(void)state;
	assert_int_equal(ureg_lock_new(&lock, "https://r.example.com", &pd), 0);
	assert_int_equal(ureg_lock_add_target(lock, "spt"), 0);
	text = format_ok(lock, NULL);
	assert_string_equal(text, want);
	again = parse_ok(text);
	text2 = format_ok(again, NULL);
	assert_string_equal(text2, want);
	free(text2);
	free(text);
	ureg_lock_free(again);
	ureg_lock_free(lock);
}

static void check_message(const char *what, const char *want)
{
	const char *got = ureg_error_last();
	size_t n = strlen(want);

	if (n && want[n - 1] == '*') {
		if (strncmp(got, want, n - 1) != 0)
			fail_msg("%s\n want prefix: %.*s\n got: %s", what,
			         (int)n - 1, want, got);
	} else if (strcmp(got, want) != 0) {
		fail_msg("%s\n want: %s\n got:  %s", what, want, got);
	}
	if (strchr(got, '\n'))
		fail_msg("%s: message has a newline: %s", what, got);
}

/* golden with the first occurrence of `from` replaced by `to`. */
static char *mutate(const char *from, const char *to)
{
	const char *at = strstr(golden, from);
	size_t head, len;
	char *out;

	if (!at)
		fail_msg("\"%s\" is not in the golden lock", from);
	head = (size_t)(at - golden);
	len = strlen(golden) - strlen(from) + strlen(to);
	out = malloc(len + 1);
	assert_non_null(out);
	memcpy(out, golden, head);
	memcpy(out + head, to, strlen(to));
	memcpy(out + head + strlen(to), at + strlen(from),
	       strlen(at + strlen(from)) + 1);
	return out;
}

static void test_malformed(void **state)
{
	static const struct {
		const char *from, *to;
		int code;
		const char *message; /* whole, or a prefix ending in '*' */
	} cases[] = {
	        /* the document and the version */
	        {golden, "[]", UREG_EINVALID,
	         "ureg.lock must be a json object"},
	        {"}\n}\n", "}\n", UREG_EINVALID,
	         "ureg.lock is not valid json*"},
	        {"\"lock-version\": 1", "\"lock-version\": 2", UREG_EINVALID,
	         "ureg.lock has lock-version 2; this ureg reads version 1 "
	         "only: upgrade ureg"},
	        /* A newer lock is reported as newer, not as unknown fields. */
	        {"\"lock-version\": 1,", "\"lock-version\": 9, \"new\": 1,",
	         UREG_EINVALID,
	         "ureg.lock has lock-version 9; this ureg reads version 1 "
	         "only: upgrade ureg"},
	        {"\"lock-version\": 1", "\"lock-version\": 0", UREG_EINVALID,
	         "ureg.lock: lock-version: 0 is not a lock format version"},
	        {"\"lock-version\": 1", "\"lock-version\": \"1\"",
	         UREG_EINVALID, "ureg.lock: lock-version: must be an integer"},
	        {"\"lock-version\": 1", "\"lock-version\": 1.0", UREG_EINVALID,
	         "ureg.lock: lock-version: must be an integer"},
	        {"\"lock-version\": 1,", "", UREG_EINVALID,
	         "ureg.lock: lock-version: field is missing"},
	        {"\"lock-version\": 1,", "\"lock-version\": 1, \"extra\": 1,",
	         UREG_EINVALID, "unknown field \"extra\" in ureg.lock"},
	        /* top-level fields */
	        {"\"registry\": \"http://127.0.0.1:5000\"",
	         "\"registry\": \"ftp://x\"", UREG_EINVALID,
	         "ureg.lock: registry: registry URL \"ftp://x\" does not start "
	         "with http:// or https://"},
	        {"\"registry\": \"http://127.0.0.1:5000\"", "\"registry\": 1",
	         UREG_EINVALID, "ureg.lock: registry: must be a string"},
	        {"\"project-digest\": " SHA("11"),
	         "\"project-digest\": \"sha256:11\"", UREG_EINVALID,
	         "ureg.lock: project-digest: *"},
	        {"\"project-digest\": " SHA("11") ",", "", UREG_EINVALID,
	         "ureg.lock: project-digest: field is missing"},
	        {"\"log-checkpoint\": \"log.example\\n7\\nabc=\\n\"",
	         "\"log-checkpoint\": 7", UREG_EINVALID,
	         "ureg.lock: log-checkpoint: must be a string"},
	        {"\"log-checkpoint\": \"log.example\\n7\\nabc=\\n\"",
	         "\"log-checkpoint\": \"\"", UREG_EINVALID,
	         "ureg.lock: log-checkpoint: is empty (leave it out instead)"},
	        {"\"packages\": {", "\"packages\": [], \"x\": {", UREG_EINVALID,
	         "unknown field \"x\" in ureg.lock"},
	        {"\"roots\": {\n    \"hvt\": [\n      \"mirage/tcpip\"\n    "
	         "],\n    "
	         "\"unix\": [\n      \"mirage/tcpip\",\n      "
	         "\"posix/sockets\"\n    ]\n  }",
	         "\"roots\": []", UREG_EINVALID,
	         "ureg.lock: roots: must be an object"},
	        {"\"images\": {", "\"images\": [], \"i\": {", UREG_EINVALID,
	         "unknown field \"i\" in ureg.lock"},
	        /* packages */
	        {"\"mirage/tcpip\": {", "\"Mirage\": {", UREG_EINVALID,
	         "ureg.lock: packages[\"Mirage\"]: repository name \"Mirage\" "
	         "does not match the OCI name grammar"},
	        {"\"mirage/tcpip\": {", "\"mirage/tcpip\": [], \"x\": {",
	         UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"]: must be an object"},
	        {"\"layer-size\": 4096,",
	         "\"layer-size\": 4096, \"yanked\": 0,", UREG_EINVALID,
	         "unknown field \"yanked\" in ureg.lock "
	         "packages[\"mirage/tcpip\"]"},
	        {"\"version\": \"7.1.2\"", "\"version\": \"7.1\"",
	         UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].version: version "
	         "\"7.1\" is invalid at position 4"},
	        {"\"version\": \"7.1.2\"", "\"version\": 7", UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].version: must be a "
	         "string"},
	        {"\"manifest\": " SHA("a1"), "\"manifest\": \"sha256:A1\"",
	         UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].manifest: *"},
	        {"\"manifest\": " SHA("a1") ",", "", UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].manifest: field is "
	         "missing"},
	        {"\"config\": " SHA("a2"),
	         "\"config\": \"sha512:" HEX("a2") "\"", UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].config: *"},
	        {"\"layer\": " SHA("a3"), "\"layer\": \"" HEX("a3") "\"",
	         UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].layer: *"},
	        {"\"tree\": " SHA("a4"), "\"tree\": \"sha256:" HEX("A4") "\"",
	         UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].tree: *"},
	        {"\"layer-size\": 4096", "\"layer-size\": -1", UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].layer-size: -1 is "
	         "negative"},
	        {"\"layer-size\": 4096", "\"layer-size\": \"4096\"",
	         UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].layer-size: must be an "
	         "integer"},
	        {"\"log-index\": 42", "\"log-index\": -1", UREG_EINVALID,
	         "ureg.lock: packages[\"posix/sockets\"].log-index: must be an "
	         "integer >= 0"},
	        {"\"signer\": \"ECDAB8967452301\"",
	         "\"signer\": \"ecdab8967452301\"", UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].signer: "
	         "\"ecdab8967452301\" is not a key id (1 to 16 upper-case hex "
	         "digits without leading zeros)"},
	        {"\"signer\": \"ECDAB8967452301\"",
	         "\"signer\": \"0ECDAB8967452301\"", UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].signer: "
	         "\"0ECDAB8967452301\" is not a key id*"},
	        {"\"signer\": \"ECDAB8967452301\"",
	         "\"signer\": \"1ECDAB89674523011\"", UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].signer: "
	         "\"1ECDAB89674523011\" is not a key id*"},
	        {"\"signer\": \"ECDAB8967452301\"", "\"signer\": \"\"",
	         UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].signer: \"\" is not a "
	         "key id*"},
	        {"\"targets\": [\n        \"hvt\",\n        \"unix\"\n      ]",
	         "\"targets\": []", UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].targets: must be a "
	         "non-empty array of target names"},
	        {"\"targets\": [\n        \"hvt\",", "\"targets\": [\"linux\",",
	         UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].targets: \"linux\" is "
	         "not a known target (known targets: unix, hvt, spt, virtio, "
	         "muen, genode, xen, qemu, firecracker)"},
	        {"\"targets\": [\n        \"hvt\",", "\"targets\": [\"unix\",",
	         UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].targets: \"unix\" is "
	         "listed twice"},
	        {"\"targets\": [\n        \"hvt\",", "\"targets\": [1,",
	         UREG_EINVALID,
	         "ureg.lock: packages[\"mirage/tcpip\"].targets[0]: must be a "
	         "string"},
	        /* consistency between packages, roots and images */
	        {"\"targets\": [\n        \"hvt\",", "\"targets\": [\"xen\",",
	         UREG_EINVALID,
	         "ureg.lock: roots[\"hvt\"]: package \"mirage/tcpip\" does not "
	         "list target \"hvt\""},
	        {"\"targets\": [\n        \"unix\"",
	         "\"targets\": [\"unix\", "
	         "\"xen\"",
	         UREG_EINVALID,
	         "ureg.lock: packages[\"posix/sockets\"].targets: \"xen\" is "
	         "not one of the lock's targets (the keys of roots)"},
	        {"\"hvt\": [\n      \"mirage/tcpip\"",
	         "\"hvt\": [\"mirage/tcp\"", UREG_EINVALID,
	         "ureg.lock: roots[\"hvt\"]: package \"mirage/tcp\" is not in "
	         "packages"},
	        {"\"hvt\": [\n      \"mirage/tcpip\"",
	         "\"hvt\": [\"mirage/tcpip\", \"mirage/tcpip\"", UREG_EINVALID,
	         "ureg.lock: roots[\"hvt\"]: \"mirage/tcpip\" is listed twice"},
	        {"\"hvt\": [\n      \"mirage/tcpip\"", "\"hvt\": [\"Bad\"",
	         UREG_EINVALID,
	         "ureg.lock: roots[\"hvt\"][0]: repository name \"Bad\" does "
	         "not match the OCI name grammar"},
	        {"\"hvt\": [\n      \"mirage/tcpip\"", "\"hvt\": [7",
	         UREG_EINVALID,
	         "ureg.lock: roots[\"hvt\"][0]: must be a string"},
	        {"\"hvt\": [\n      \"mirage/tcpip\"\n    ]", "\"hvt\": {}",
	         UREG_EINVALID,
	         "ureg.lock: roots[\"hvt\"]: must be an array of package "
	         "names"},
	        {"\"hvt\": [\n      \"mirage/tcpip\"",
	         "\"linux\": [\"x\"], "
	         "\"hvt\": [\"mirage/tcpip\"",
	         UREG_EINVALID,
	         "ureg.lock: roots[\"linux\"]: \"linux\" is not a known "
	         "target*"},
	        {"\"target\": \"hvt\"", "\"target\": \"xen\"", UREG_EINVALID,
	         "ureg.lock: images[\"web\"].target: \"xen\" is not one of the "
	         "lock's targets (the keys of roots)"},
	        /* images */
	        {"\"web\": {", "\"Web\": {", UREG_EINVALID,
	         "ureg.lock: images: image alias \"Web\" does not match "
	         "[a-z0-9][a-z0-9_-]{0,63}"},
	        {"\"web\": {", "\"web\": 1, \"x\": {", UREG_EINVALID,
	         "ureg.lock: images[\"web\"]: must be an object"},
	        {"\"target\": \"hvt\"", "\"target\": \"hvt\", \"tag\": \"x\"",
	         UREG_EINVALID,
	         "unknown field \"tag\" in ureg.lock images[\"web\"]"},
	        {"\"digest\": " SHA("c1"), "\"digest\": \"latest\"",
	         UREG_EINVALID, "ureg.lock: images[\"web\"].digest: *"},
	        {"\"ref\": \"acme/web@2.0.0\"", "\"ref\": \"acme/web\"",
	         UREG_EINVALID,
	         "ureg.lock: images[\"web\"].ref: image ref \"acme/web\" is "
	         "not "
	         "NAME@VERSION, NAME@CHANNEL or NAME@sha256:DIGEST"},
	        {"\"ref\": \"acme/web@2.0.0\",", "", UREG_EINVALID,
	         "ureg.lock: images[\"web\"].ref: field is missing"},
	        {"\"target\": \"hvt\"", "\"target\": \"linux\"", UREG_EINVALID,
	         "ureg.lock: images[\"web\"].target: \"linux\" is not a known "
	         "target*"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = mutate(cases[i].from, cases[i].to);
		ureg_lock *lock = (ureg_lock *)1;
		int error = ureg_lock_parse(&lock, text, strlen(text));

		if (error != cases[i].code)
			fail_msg("case %zu (%s -> %s): got %d (%s)", i,
			         cases[i].from, cases[i].to, error,
			         ureg_error_last());
		assert_null(lock);
		check_message(cases[i].to, cases[i].message);
		free(text);
	}
}

/* Building through the API refuses what parsing refuses. */
static void test_api_refusals(void **state)
{
	ureg_lock *lock = build(0);
	ureg_lock_package p = pkg_b();
	ureg_lock_image img = {"web", "acme/web@3.0.0", "hvt", D(1)};
	ureg_digest pd = D(0);
	ureg_lock *other = (ureg_lock *)1;
	static const char *const dup_targets[] = {"hvt", "hvt"};
	char *text = NULL;

	(void)state;
	assert_int_equal(ureg_lock_add_package(lock, &p), UREG_EEXISTS);
	check_message("dup package",
	              "ureg.lock: packages: package "
	              "\"posix/sockets\" is in the lock already");
	p.name = "posix/other";
	p.version = "1.0";
	assert_int_equal(ureg_lock_add_package(lock, &p), UREG_EINVALID);
	check_message("version",
	              "ureg.lock: packages[\"posix/other\"].version: "
	              "version \"1.0\" is invalid at position 4");
	p.version = "1.0.0";
	p.signer = "abc";
	assert_int_equal(ureg_lock_add_package(lock, &p), UREG_EINVALID);
	p.signer = "ABC";
	p.ntargets = 0;
	assert_int_equal(ureg_lock_add_package(lock, &p), UREG_EINVALID);
	check_message("no targets", "ureg.lock: packages[\"posix/other\"]."
	                            "targets: a package must belong to at "
	                            "least one target");
	p.targets = dup_targets;
	p.ntargets = 2;
	assert_int_equal(ureg_lock_add_package(lock, &p), UREG_EINVALID);
	p.ntargets = 1;
	p.layer_size = (uint64_t)INT64_MAX + 1;
	assert_int_equal(ureg_lock_add_package(lock, &p), UREG_EINVALID);
	p.layer_size = 1;
	p.log_index = -2;
	assert_int_equal(ureg_lock_add_package(lock, &p), UREG_EINVALID);
	p.log_index = -1;
	p.name = NULL;
	assert_int_equal(ureg_lock_add_package(lock, &p), UREG_EINVALID);
	p.name = "posix/other";
	assert_int_equal(ureg_lock_add_package(lock, &p), 0);

	assert_int_equal(ureg_lock_add_image(lock, &img), UREG_EEXISTS);
	assert_int_equal(ureg_lock_add_target(lock, "linux"), UREG_EINVALID);
	assert_int_equal(ureg_lock_add_root(lock, "hvt", "Bad"), UREG_EINVALID);
	assert_int_equal(ureg_lock_set_checkpoint(lock, "\xff"), UREG_EINVALID);
	/* The refusals changed nothing that matters: only posix/other (in
	 * no root yet, target hvt declared) was added. */
	assert_int_equal(ureg_lock_package_count(lock), 3);

	/* A root naming a package that was never added: format refuses. */
	assert_int_equal(ureg_lock_add_root(lock, "hvt", "ghost"), 0);
	assert_int_equal(ureg_lock_format(&text, NULL, lock), UREG_EINVALID);
	assert_null(text);
	check_message("ghost", "ureg.lock: roots[\"hvt\"]: package \"ghost\" "
	                       "is not in packages");
	ureg_lock_free(lock);

	assert_int_equal(ureg_lock_new(&other, "not a url", &pd),
	                 UREG_EINVALID);
	assert_null(other);
	check_message("registry", "ureg.lock: registry: registry URL \"not a "
	                          "url\" does not start with http:// or "
	                          "https://");
}

static void test_caps(void **state)
{
	size_t big = UREG_LOCK_MAX_SIZE + 1, i;
	char *text = malloc(big), *out = NULL;
	ureg_lock *lock = NULL;
	ureg_digest pd = D(0);
	char name[32], long_name[256];
	ureg_lock_package p = pkg_b();

	(void)state;
	assert_non_null(text);
	memset(text, ' ', big);
	assert_int_equal(ureg_lock_parse(&lock, text, big), UREG_ETOOBIG);
	assert_null(lock);
	free(text);

	/* UREG_LOCK_MAX_PACKAGES packages fit in the model, one more does
	 * not; but such a lock is larger than the file cap, so format
	 * refuses to write what parse would refuse to read. */
	assert_int_equal(ureg_lock_new(&lock, "http://r", &pd), 0);
	p.name = name;
	for (i = 0; i < UREG_LOCK_MAX_PACKAGES; i++) {
		snprintf(name, sizeof(name), "p%06zu", i);
		if (ureg_lock_add_package(lock, &p) < 0)
			fail_msg("%s: %s", name, ureg_error_last());
	}
	snprintf(name, sizeof(name), "z");
	assert_int_equal(ureg_lock_add_package(lock, &p), UREG_ETOOBIG);
	check_message("cap", "ureg.lock: packages: more than 100000 packages");
	assert_int_equal(ureg_lock_add_target(lock, "unix"), 0);
	assert_int_equal(ureg_lock_format(&out, NULL, lock), UREG_ETOOBIG);
	assert_null(out);
	check_message("too big", "ureg.lock would be more than 16777216 "
	                         "bytes (100000 packages)");
	ureg_lock_free(lock);

	/* Fewer packages with long names: the text itself is too big. */
	assert_int_equal(ureg_lock_new(&lock, "http://r", &pd), 0);
	memset(long_name, 'n', 240);
	for (i = 0; i < 24000; i++) {
		snprintf(long_name + 240, 16, "%06zu", i);
		p.name = long_name;
		if (ureg_lock_add_package(lock, &p) < 0)
			fail_msg("%s: %s", long_name, ureg_error_last());
	}
	assert_int_equal(ureg_lock_add_target(lock, "unix"), 0);
	assert_int_equal(ureg_lock_format(&out, NULL, lock), UREG_ETOOBIG);
	assert_null(out);
	check_message("too big",
	              "ureg.lock would be 18336214 bytes, limit 16777216");
	ureg_lock_free(lock);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_save_load(void **state)
{
	char *dir = test_tmpdir("ureg-lock");
	char path[4096], bad[4096], buf[8192];
	ureg_lock *lock = build(0), *loaded = NULL;
	FILE *f;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/ureg.lock", dir);
	assert_int_equal(ureg_lock_load(&loaded, path), UREG_ENOTFOUND);
	assert_null(loaded);

	assert_int_equal(ureg_lock_save(lock, path), 0);
	/* Saving again replaces the file. */
	assert_int_equal(ureg_lock_save(lock, path), 0);
	assert_int_equal(count_entries(dir), 1);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf, golden);

	assert_int_equal(ureg_lock_load(&loaded, path), 0);
	{
		char *text = format_ok(loaded, NULL);
		assert_string_equal(text, golden);
		free(text);
	}
	ureg_lock_free(loaded);

	/* A save that cannot happen leaves nothing behind. */
	snprintf(bad, sizeof(bad), "%s/missing/ureg.lock", dir);
	assert_int_equal(ureg_lock_save(lock, bad), UREG_EIO);
	assert_int_equal(count_entries(dir), 1);

	ureg_lock_free(lock);
	test_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_golden),
	        cmocka_unit_test(test_insertion_order),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_accessors),
	        cmocka_unit_test(test_empty),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_api_refusals),
	        cmocka_unit_test(test_caps),
	        cmocka_unit_test(test_save_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
