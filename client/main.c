/* SPDX-License-Identifier: Apache-2.0 */
/* The `ureg` command: parses the subcommand and its options, and is the
 * only place that turns library errors into messages and exit codes. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/cli.h"
#include "client/commands.h"
#include "common/timestamp.h"
#include "common/error.h"
#include "common/log.h"
#include "server/server.h"
#include "store/fsck.h"
#include "store/gc.h"
#include "store/index.h"
#include "store/token.h"

#define EXIT_USAGE 2

static const char usage_text[] =
        "usage: ureg <command> [options]\n"
        "\n"
        "commands:\n"
        "  serve   run the registry (OCI Distribution v1.1 at /v2/)\n"
        "  fsck    check a registry root: re-hash blobs, check the index\n"
        "  gc      remove blobs nothing names any more (server stopped)\n"
        "  token   create, list or revoke access tokens\n"
        "  keygen  make a minisign-compatible signing key pair\n"
        "  init    write a starter ureg.json\n"
        "  login   save a registry token (read from stdin)\n"
        "  publish pack, sign and push the package in a directory\n"
        "  verify  check a published version's signature and signer\n"
        "  yank    mark a version as not to be chosen (--undo)\n"
        "  keys    list, add or revoke a namespace's signing keys\n"
        "  lock    resolve ureg.json for every target into ureg.lock\n"
        "  fetch   download, verify and extract what ureg.lock pins\n"
        "  push-image  push signed unikernel images that know their target\n"
        "  pull    fetch a verified image by version, channel or digest\n"
        "  promote move a channel (production, ...) to a release\n"
        "  rollback  move a channel back one step\n"
        "  history show who moved a channel, when, from and to\n"
        "  info    list a package's versions, or an image's versions and "
        "channels\n"
        "  cache   show the client cache, or empty it (clean)\n"
        "  version print the version\n"
        "\n"
        "run 'ureg <command> --help' for a command's options.\n";

static int fail(const char *what, int error)
{
	fprintf(stderr, "ureg: %s: %s\n", what,
	        *ureg_error_last() ? ureg_error_last()
	                           : ureg_error_name(error));
	return 1;
}

static void log_to_stderr(ureg_log_level level, const char *message,
                          void *payload)
{
	static const char *names[] = {"", "error", "warning", "info", "debug"};

	(void)payload;
	fprintf(stderr, "ureg: %s: %s\n", names[level], message);
}

/* The registry root used when --root is not given. */
static const char *default_root(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");

	if (xdg && *xdg)
		snprintf(buf, len, "%s/ureg", xdg);
	else
		snprintf(buf, len, "%s/.local/share/ureg", home ? home : ".");
	return buf;
}

/* "123", "64K", "512M", "8G" -> bytes; -1 if malformed. */
static int parse_size(uint64_t *out, const char *text)
{
	char *end = NULL;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || text[0] == '-')
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'K':
	case 'k':
		shift = 10;
		end++;
		break;
	case 'M':
	case 'm':
		shift = 20;
		end++;
		break;
	case 'G':
	case 'g':
		shift = 30;
		end++;
		break;
	case 'T':
	case 't':
		shift = 40;
		end++;
		break;
	default:
		return -1;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_uint(unsigned *out, const char *text, const char *flag)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v > 1000000) {
		fprintf(stderr, "ureg: %s \"%s\" is not a number\n", flag,
		        text);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

/* --- serve -----------------------------------------------------------------
 */

static const char serve_usage[] =
        "usage: ureg serve [--root DIR] [--listen HOST:PORT] [--private]\n"
        "                  [--max-blob-size SIZE] [--threads N]\n"
        "                  [--max-connections N] [--max-per-ip N]\n"
        "                  [--timeout SECONDS] [--quiet]\n"
        "\n"
        "  --root DIR          registry directory (default "
        "$XDG_DATA_HOME/ureg)\n"
        "  --listen HOST:PORT  address to bind (default 127.0.0.1:5000; "
        "port 0 picks one)\n"
        "  --private           reads need a token too\n"
        "  --max-blob-size N   largest blob accepted, e.g. 8G (default 8G)\n"
        "  --quiet             no access log\n"
        "\n"
        "The access log goes to stdout, one line per request (method, path,\n"
        "status, bytes in, bytes out, duration, then \"token ID\" when a "
        "valid\n"
        "token came with it). Lines are written in batches:\n"
        "under load up to a second late, at once when a connection closes,\n"
        "after 100 ms idle and at stop; a terminal gets every line at once.\n";

static int cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"root", required_argument, NULL, 'r'},
	        {"listen", required_argument, NULL, 'l'},
	        {"private", no_argument, NULL, 'p'},
	        {"max-blob-size", required_argument, NULL, 'b'},
	        {"threads", required_argument, NULL, 't'},
	        {"max-connections", required_argument, NULL, 'c'},
	        {"max-per-ip", required_argument, NULL, 'i'},
	        {"timeout", required_argument, NULL, 'T'},
	        {"quiet", no_argument, NULL, 'q'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	ureg_server_options opts = UREG_SERVER_OPTIONS_INIT;
	ureg_server *server = NULL;
	char rootbuf[4096];
	sigset_t set;
	int c, sig = 0, error, quiet = 0;

	opts.root = default_root(rootbuf, sizeof(rootbuf));
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			opts.root = optarg;
			break;
		case 'l':
			opts.listen = optarg;
			break;
		case 'p':
			opts.private_reads = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'b':
			if (parse_size(&opts.max_blob_size, optarg) < 0) {
				fprintf(stderr,
				        "ureg: --max-blob-size \"%s\" is not "
				        "a size like 512M or 8G\n",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			if (parse_uint(&opts.threads, optarg, "--threads") < 0)
				return EXIT_USAGE;
			break;
		case 'c':
			if (parse_uint(&opts.max_connections, optarg,
			               "--max-connections") < 0)
				return EXIT_USAGE;
			break;
		case 'i':
			if (parse_uint(&opts.max_per_ip, optarg,
			               "--max-per-ip") < 0)
				return EXIT_USAGE;
			break;
		case 'T':
			if (parse_uint(&opts.timeout_seconds, optarg,
			               "--timeout") < 0)
				return EXIT_USAGE;
			break;
		case 'h':
			fputs(serve_usage, stdout);
			return 0;
		default:
			fputs(serve_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(serve_usage, stderr);
		return EXIT_USAGE;
	}
	/* Block the stop signals before any thread starts, so that only
	 * sigwait below sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	opts.access_log = quiet ? NULL : stdout;
	ureg_log_set_sink(UREG_LOG_WARN, log_to_stderr, NULL);
	if ((error = ureg_server_start(&server, &opts)) < 0)
		return fail("serve", error);
	printf("listening on %s\n", ureg_server_url(server));
	fflush(stdout);
	sigwait(&set, &sig);
	fprintf(stderr, "ureg: %s received, stopping\n",
	        sig == SIGINT ? "SIGINT" : "SIGTERM");
	ureg_server_stop(server);
	return 0;
}

/* --- fsck --------------------------------------------------------------------
 */

static void print_fault(const char *message, void *payload)
{
	(void)payload;
	fprintf(stderr, "fault: %s\n", message);
}

static int cmd_fsck(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"root", required_argument, NULL, 'r'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	ureg_fsck_options opts = UREG_FSCK_OPTIONS_INIT;
	ureg_fsck_report report;
	char rootbuf[4096];
	const char *root = default_root(rootbuf, sizeof(rootbuf));
	int c, error;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			root = optarg;
			break;
		case 'h':
			puts("usage: ureg fsck [--root DIR]");
			return 0;
		default:
			fputs("usage: ureg fsck [--root DIR]\n", stderr);
			return EXIT_USAGE;
		}
	}
	memset(&report, 0, sizeof(report));
	if ((error = ureg_fsck_run(&report, root, &opts, print_fault, NULL)) <
	    0)
		return fail("fsck", error);
	printf("checked %zu blobs (%zu bad), %zu index rows (%zu bad); "
	       "removed %zu temp files, %zu expired uploads\n",
	       report.blobs_checked, report.blobs_bad, report.rows_checked,
	       report.rows_bad, report.temp_removed, report.uploads_expired);
	return report.blobs_bad || report.rows_bad ? 1 : 0;
}

/* --- gc ----------------------------------------------------------------------
 */

static const char gc_usage[] =
        "usage: ureg gc [--root DIR] [--dry-run]\n"
        "  removes the blobs no repository, manifest, package, image or "
        "channel\n"
        "  names any more (what DELETEs leave behind); run it with the "
        "server\n"
        "  stopped. --dry-run lists them and removes nothing.\n";

static void print_removed(const ureg_digest *digest, uint64_t size,
                          void *payload)
{
	char text[UREG_DIGEST_STRLEN + 1];

	ureg_digest_format(text, digest);
	printf("%s %s %" PRIu64 " bytes\n",
	       *(const int *)payload ? "would remove" : "removed", text, size);
}

static int cmd_gc(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"root", required_argument, NULL, 'r'},
	        {"dry-run", no_argument, NULL, 'n'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	ureg_gc_report report;
	char rootbuf[4096];
	const char *root = default_root(rootbuf, sizeof(rootbuf));
	int c, error, dry_run = 0;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			root = optarg;
			break;
		case 'n':
			dry_run = 1;
			break;
		case 'h':
			fputs(gc_usage, stdout);
			return 0;
		default:
			fputs(gc_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(gc_usage, stderr);
		return EXIT_USAGE;
	}
	if ((error = ureg_gc_run(&report, root, dry_run, print_removed,
	                         &dry_run)) < 0)
		return fail("gc", error);
	printf("%zu blobs, %zu kept, %zu %s (%.1f MiB)\n", report.blobs_seen,
	       report.blobs_kept, report.blobs_removed,
	       dry_run ? "to remove" : "removed",
	       (double)report.bytes_removed / 1048576.0);
	return 0;
}

/* --- token -------------------------------------------------------------------
 */

static const char token_usage[] =
        "usage: ureg token create [--root DIR] --scope ACTION:NAMESPACE "
        "[--scope ...]\n"
        "       ureg token list [--root DIR]\n"
        "       ureg token revoke [--root DIR] ID|TOKEN\n"
        "  create prints a new token on stdout and its id on stderr.\n"
        "  ACTION is pull, push or admin; NAMESPACE a repository name "
        "prefix or *.\n"
        "  list shows each token's id (the first 12 hex digits of its "
        "sha256, as\n"
        "  the access log and channel history name it), creation time "
        "and scopes.\n"
        "  revoke takes the id (or 8 to 64 of those hex digits) or the "
        "token\n"
        "  itself; a running server refuses it from its next request "
        "on.\n";

static int token_create(ureg_index *index, const char *const *scopes,
                        size_t nscopes)
{
	char token[UREG_TOKEN_LEN + 1], id[UREG_TOKEN_ID_LEN + 1];
	ureg_digest hash;
	int error;

	if ((error = ureg_token_create(token, index, scopes, nscopes)) < 0)
		return fail("token", error);
	ureg_digest_buffer(&hash, token, UREG_TOKEN_LEN);
	ureg_token_id_of_hash(id, &hash);
	puts(token);
	fprintf(stderr, "ureg: token %s created\n", id);
	return 0;
}

static int token_list(ureg_index *index)
{
	ureg_index_token *list = NULL;
	size_t n = 0, i;
	int error;

	if ((error = ureg_index_token_list(&list, &n, index)) < 0)
		return fail("token", error);
	printf("%-12s  %-20s  %s\n", "ID", "CREATED", "SCOPES");
	for (i = 0; i < n; i++) {
		char id[UREG_TOKEN_ID_LEN + 1], when[UREG_TIMESTAMP_LEN];

		ureg_token_id_of_hash(id, &list[i].hash);
		ureg_timestamp_format(when, list[i].created);
		printf("%-12s  %-20s  %s\n", id, when,
		       list[i].scopes ? list[i].scopes : "");
	}
	ureg_index_tokens_free(list, n);
	return 0;
}

static int token_revoke(ureg_index *index, const char *what)
{
	char id[UREG_TOKEN_ID_LEN + 1];
	int error;

	if ((error = ureg_token_revoke(id, index, what)) < 0)
		return fail("token revoke", error);
	printf("revoked token %s\n", id);
	return 0;
}

static int cmd_token(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"root", required_argument, NULL, 'r'},
	        {"scope", required_argument, NULL, 's'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *scopes[16], *sub;
	size_t nscopes = 0;
	char rootbuf[4096], dbpath[4200];
	const char *root = default_root(rootbuf, sizeof(rootbuf));
	ureg_index *index = NULL;
	int c, error, rc, nargs;

	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(token_usage, stdout);
		return 0;
	}
	if (argc < 2 ||
	    (strcmp(argv[1], "create") != 0 && strcmp(argv[1], "list") != 0 &&
	     strcmp(argv[1], "revoke") != 0)) {
		fputs(token_usage, stderr);
		return EXIT_USAGE;
	}
	sub = argv[1];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			root = optarg;
			break;
		case 's':
			if (nscopes == 16) {
				fputs("ureg: at most 16 scopes\n", stderr);
				return EXIT_USAGE;
			}
			scopes[nscopes++] = optarg;
			break;
		case 'h':
			fputs(token_usage, stdout);
			return 0;
		default:
			fputs(token_usage, stderr);
			return EXIT_USAGE;
		}
	}
	nargs = argc - optind;
	if ((strcmp(sub, "create") == 0 && (nscopes == 0 || nargs != 0)) ||
	    (strcmp(sub, "list") == 0 && (nscopes != 0 || nargs != 0)) ||
	    (strcmp(sub, "revoke") == 0 && (nscopes != 0 || nargs != 1))) {
		fputs(token_usage, stderr);
		return EXIT_USAGE;
	}
	snprintf(dbpath, sizeof(dbpath), "%s/index.db", root);
	if (strcmp(sub, "create") == 0) {
		if (cli_mkdirs(root, 0755) < 0)
			return 1;
	} else if (access(dbpath, F_OK) != 0) {
		/* listing or revoking must not create an empty registry */
		fprintf(stderr, "ureg: token: no registry at \"%s\" (no %s)\n",
		        root, dbpath);
		return 1;
	}
	if ((error = ureg_index_open(&index, dbpath)) < 0)
		return fail("token", error);
	if (strcmp(sub, "create") == 0)
		rc = token_create(index, scopes, nscopes);
	else if (strcmp(sub, "list") == 0)
		rc = token_list(index);
	else
		rc = token_revoke(index, argv[optind]);
	ureg_index_free(index);
	return rc;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		fputs(usage_text, cmd ? stdout : stderr);
		return cmd ? 0 : EXIT_USAGE;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		puts("ureg " UREG_VERSION);
		return 0;
	}
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "fsck") == 0)
		return cmd_fsck(argc - 1, argv + 1);
	if (strcmp(cmd, "gc") == 0)
		return cmd_gc(argc - 1, argv + 1);
	if (strcmp(cmd, "token") == 0)
		return cmd_token(argc - 1, argv + 1);
	if (strcmp(cmd, "keygen") == 0)
		return ureg_cmd_keygen(argc - 1, argv + 1);
	if (strcmp(cmd, "init") == 0)
		return ureg_cmd_init(argc - 1, argv + 1);
	if (strcmp(cmd, "login") == 0)
		return ureg_cmd_login(argc - 1, argv + 1);
	if (strcmp(cmd, "publish") == 0)
		return ureg_cmd_publish(argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return ureg_cmd_verify(argc - 1, argv + 1);
	if (strcmp(cmd, "yank") == 0)
		return ureg_cmd_yank(argc - 1, argv + 1);
	if (strcmp(cmd, "keys") == 0)
		return ureg_cmd_keys(argc - 1, argv + 1);
	if (strcmp(cmd, "lock") == 0)
		return ureg_cmd_lock(argc - 1, argv + 1);
	if (strcmp(cmd, "fetch") == 0)
		return ureg_cmd_fetch(argc - 1, argv + 1);
	if (strcmp(cmd, "push-image") == 0)
		return ureg_cmd_push_image(argc - 1, argv + 1);
	if (strcmp(cmd, "pull") == 0)
		return ureg_cmd_pull(argc - 1, argv + 1);
	if (strcmp(cmd, "promote") == 0)
		return ureg_cmd_promote(argc - 1, argv + 1);
	if (strcmp(cmd, "rollback") == 0)
		return ureg_cmd_rollback(argc - 1, argv + 1);
	if (strcmp(cmd, "history") == 0)
		return ureg_cmd_history(argc - 1, argv + 1);
	if (strcmp(cmd, "info") == 0)
		return ureg_cmd_info(argc - 1, argv + 1);
	if (strcmp(cmd, "cache") == 0)
		return ureg_cmd_cache(argc - 1, argv + 1);
	fprintf(stderr, "ureg: unknown command \"%s\"\n%s", cmd, usage_text);
	return EXIT_USAGE;
}
