/* SPDX-License-Identifier: Apache-2.0 */
/* `ureg fetch`: reproduce the dependency trees ureg.lock pins into deps/,
 * verified, from the cache when possible. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/cli.h"
#include "client/commands.h"
#include "client/fetch.h"
#include "client/image.h"
#include "lockfiles/lock.h"
#include "lockfiles/project.h"

static const char fetch_usage[] =
        "usage: ureg fetch [--lock FILE] [--dest DIR] [--jobs N] [--offline]\n"
        "                  [--locked] [--cache-only] [--verify] [--json]\n"
        "                  [--registry URL]\n"
        "  downloads, verifies and extracts every package ureg.lock pins\n"
        "  --lock FILE    the lock (default ureg.lock)\n"
        "  --dest DIR     where trees go, DIR/<name> (default deps next to "
        "the lock)\n"
        "  --jobs N       parallel downloads, 1..64 (default 8)\n"
        "  --offline      use the cache only; name what it lacks\n"
        "  --locked       refuse to run if ureg.json changed since the lock\n"
        "  --cache-only   download and verify into the cache, extract "
        "nothing\n"
        "  --verify       re-hash every tree in DIR against the lock and "
        "extract\n"
        "                 again what differs (a plain fetch trusts trees "
        "it made)\n"
        "  --json         print a summary as JSON on stdout\n";

typedef struct {
	struct timespec last;
	int shown;
} progress_state;

static void show_progress(const ureg_fetch_progress *p, void *payload)
{
	progress_state *st = payload;
	struct timespec now;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - st->last.tv_sec) * 1e3 +
	     (double)(now.tv_nsec - st->last.tv_nsec) / 1e6;
	if (st->shown && ms < 100 && p->packages_done < p->packages_total)
		return;
	st->last = now;
	st->shown = 1;
	fprintf(stderr, "\rfetch: %zu/%zu packages, %.1f/%.1f MiB ",
	        p->packages_done, p->packages_total,
	        (double)p->bytes_done / 1048576.0,
	        (double)p->bytes_total / 1048576.0);
}

/* The directory part of `path` ("." if none), into `out`. */
static void dir_of(char *out, size_t len, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(out, len, ".");
	else if (slash == path)
		snprintf(out, len, "/");
	else
		snprintf(out, len, "%.*s", (int)(slash - path), path);
}

static void print_json(const ureg_fetch_result *r)
{
	printf("{\"bytes\":%" PRIu64 ",\"downloaded\":%zu,\"extracted\":%zu,"
	       "\"from_cache\":%zu,\"images\":%zu,\"images_installed\":%zu,"
	       "\"keys_learned\":%zu,\"packages\":%zu,\"repaired\":%zu,"
	       "\"requests\":%zu,\"up_to_date\":%zu}\n",
	       r->bytes, r->downloaded, r->extracted, r->from_cache, r->images,
	       r->images_installed, r->keys_learned, r->packages, r->repaired,
	       r->requests, r->up_to_date);
}

/* --locked on the fast path: the bytes of ureg.json against the project
 * digest the lock recorded. 0 if they agree, else the exit code. */
static int check_locked(const char *project_path, const char *lock_path,
                        const ureg_digest *want)
{
	ureg_digest got;
	char *text = NULL;
	size_t len = 0;

	if (cli_read_file(&text, &len, project_path, UREG_PROJECT_MAX_SIZE) < 0)
		return 1;
	ureg_digest_buffer(&got, text, len);
	free(text);
	if (!ureg_digest_equal(&got, want)) {
		fprintf(stderr,
		        "ureg: fetch --locked: %s changed since %s was made; "
		        "run "
		        "ureg lock\n",
		        project_path, lock_path);
		return 1;
	}
	return 0;
}

int ureg_cmd_fetch(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"lock", required_argument, NULL, 'l'},
	        {"dest", required_argument, NULL, 'd'},
	        {"jobs", required_argument, NULL, 'j'},
	        {"offline", no_argument, NULL, 'o'},
	        {"locked", no_argument, NULL, 'L'},
	        {"cache-only", no_argument, NULL, 'c'},
	        {"verify", no_argument, NULL, 'V'},
	        {"json", no_argument, NULL, 'J'},
	        {"registry", required_argument, NULL, 'r'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	ureg_fetch_options opts = UREG_FETCH_OPTIONS_INIT;
	ureg_fetch_result result;
	progress_state pstate;
	const char *lock_path = "ureg.lock", *dest = NULL, *registry = NULL;
	char dir[4096], project_path[4200], dest_buf[4200], cache[4096];
	char config[4096], known[4200], *token = NULL;
	ureg_project *project = NULL;
	ureg_lock *lock = NULL;
	ureg_digest lock_digest, project_digest;
	char *lock_text = NULL;
	size_t lock_len = 0, in_sync = 0;
	int c, json = 0, locked = 0, tty = isatty(STDERR_FILENO), rc = 1, error;
	char *end;
	long jobs;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			lock_path = optarg;
			break;
		case 'd':
			dest = optarg;
			break;
		case 'j':
			errno = 0;
			jobs = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || jobs < 1 ||
			    jobs > UREG_FETCH_MAX_JOBS) {
				fprintf(stderr,
				        "ureg: --jobs \"%s\" is not a number "
				        "from 1 to %d\n",
				        optarg, UREG_FETCH_MAX_JOBS);
				return CLI_EXIT_USAGE;
			}
			opts.jobs = (unsigned)jobs;
			break;
		case 'o':
			opts.offline = 1;
			break;
		case 'L':
			locked = 1;
			break;
		case 'V':
			opts.verify = 1;
			break;
		case 'c':
			opts.cache_only = 1;
			break;
		case 'J':
			json = 1;
			break;
		case 'r':
			registry = optarg;
			break;
		case 'h':
			fputs(fetch_usage, stdout);
			return 0;
		default:
			fputs(fetch_usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(fetch_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	if (access(lock_path, F_OK) != 0) {
		fprintf(stderr,
		        "ureg: fetch: no \"%s\": make one with `ureg "
		        "lock`\n",
		        lock_path);
		goto done;
	}
	if (cli_read_file(&lock_text, &lock_len, lock_path,
	                  UREG_LOCK_MAX_SIZE) < 0)
		goto done;
	ureg_digest_buffer(&lock_digest, lock_text, lock_len);
	dir_of(dir, sizeof(dir), lock_path);
	snprintf(project_path, sizeof(project_path), "%s/ureg.json", dir);
	if (!dest) {
		snprintf(dest_buf, sizeof(dest_buf), "%s/deps", dir);
		dest = strcmp(dir, ".") == 0 ? "deps" : dest_buf;
	}
	/* nothing changed since the last complete fetch: done without even
	 * parsing the lock */
	if (!opts.cache_only && !opts.verify &&
	    (error = ureg_fetch_in_sync(&in_sync, &project_digest, dest,
	                                &lock_digest)) == 1) {
		memset(&result, 0, sizeof(result));
		result.packages = result.up_to_date = in_sync;
		if (locked && (rc = check_locked(project_path, lock_path,
		                                 &project_digest)) != 0)
			goto done;
		goto report;
	}
	if ((error = ureg_lock_parse(&lock, lock_text, lock_len)) < 0) {
		rc = cli_fail(lock_path, error);
		goto done;
	}
	if (locked || access(project_path, F_OK) == 0) {
		if ((error = ureg_project_load(&project, project_path)) < 0) {
			rc = cli_fail(project_path, error);
			goto done;
		}
		if (locked &&
		    !ureg_digest_equal(&project->digest,
		                       ureg_lock_project_digest(lock))) {
			fprintf(stderr,
			        "ureg: fetch --locked: %s changed since %s was "
			        "made; run ureg lock\n",
			        project_path, lock_path);
			goto done;
		}
		opts.trusted_keys = (const char *const *)project->keys;
		opts.ntrusted_keys = project->nkeys;
	}
	opts.dest = dest;
	opts.lock_digest = &lock_digest;
	opts.registry = registry ? registry : ureg_lock_registry(lock);
	opts.token = token = cli_token_for(opts.registry);
	opts.cache_dir = cli_cache_dir(cache, sizeof(cache));
	if (cli_mkdirs(cache, 0755) < 0)
		goto done;
	snprintf(known, sizeof(known), "%s/known_keys",
	         cli_config_dir(config, sizeof(config)));
	opts.known_keys = known;
	memset(&pstate, 0, sizeof(pstate));
	if (tty && !json) {
		opts.progress = show_progress;
		opts.payload = &pstate;
	}
	error = ureg_fetch(&result, lock, &opts);
	if (pstate.shown)
		fputc('\n', stderr);
	if (result.keys_learned)
		fprintf(stderr,
		        "ureg: fetch: trusting %zu signing key%s of the "
		        "registry on first use (saved in %s)\n",
		        result.keys_learned,
		        result.keys_learned == 1 ? "" : "s", known);
	if (*result.warning)
		fprintf(stderr, "ureg: fetch: warning: %s\n", result.warning);
	if (error < 0) {
		rc = cli_fail("fetch", error);
		goto done;
	}
report:
	if (json)
		print_json(&result);
	else if (tty) {
		fprintf(stderr,
		        "fetch: %zu packages in %s: %zu extracted, %zu up to "
		        "date; %zu downloaded (%.1f MiB), %zu from the cache",
		        result.packages, dest, result.extracted,
		        result.up_to_date, result.downloaded,
		        (double)result.bytes / 1048576.0, result.from_cache);
		if (result.images)
			fprintf(stderr, "; %zu images, %zu installed",
			        result.images, result.images_installed);
		fputc('\n', stderr);
	}
	rc = 0;
done:
	if (token)
		explicit_bzero(token, strlen(token));
	free(token);
	ureg_project_free(project);
	ureg_lock_free(lock);
	free(lock_text);
	return rc;
}
