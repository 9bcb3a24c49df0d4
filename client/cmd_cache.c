/* SPDX-License-Identifier: Apache-2.0 */
/* `ureg cache` shows where the client cache is and what it holds;
 * `ureg cache clean` empties it (as `go clean -modcache` does). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client/cache.h"
#include "client/cli.h"
#include "client/commands.h"

static const char usage[] =
        "usage: ureg cache [clean]\n"
        "  prints the client cache's directory ($XDG_CACHE_HOME/ureg, else\n"
        "  ~/.cache/ureg) and what it holds; 'clean' removes it: later pulls\n"
        "  and fetches download again (--offline has nothing to use). A pull\n"
        "  or fetch running meanwhile may fail.\n";

/* 289 bytes, 12.5 KiB, 10.0 MiB, 1.2 GiB */
static const char *size_text(char *buf, size_t len, uint64_t bytes)
{
	if (bytes < 1024)
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
	else if (bytes < (uint64_t)1 << 20)
		snprintf(buf, len, "%.1f KiB", (double)bytes / 1024.0);
	else if (bytes < (uint64_t)1 << 30)
		snprintf(buf, len, "%.1f MiB", (double)bytes / 1048576.0);
	else
		snprintf(buf, len, "%.1f GiB", (double)bytes / 1073741824.0);
	return buf;
}

int ureg_cmd_cache(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	ureg_cache_usage u;
	char dir[4096], size[32];
	int opt, error, clean = 0;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		fputs(usage, stderr);
		return CLI_EXIT_USAGE;
	}
	if (optind < argc && strcmp(argv[optind], "clean") == 0) {
		clean = 1;
		optind++;
	}
	if (optind < argc) {
		fprintf(stderr, "ureg: cache: unexpected \"%s\"\n%s",
		        argv[optind], usage);
		return CLI_EXIT_USAGE;
	}
	cli_cache_dir(dir, sizeof(dir));
	error = ureg_cache_usage_of(&u, dir);
	if (error == UREG_ENOTFOUND) {
		printf("%s: empty (no cache yet)\n", dir);
		return 0;
	}
	if (error < 0)
		return cli_fail("cache", error);
	if (!clean) {
		printf("%s: %" PRIu64 " blob%s, %" PRIu64 " file%s, %s\n", dir,
		       u.blobs, u.blobs == 1 ? "" : "s", u.files,
		       u.files == 1 ? "" : "s",
		       size_text(size, sizeof(size), u.bytes));
		return 0;
	}
	if ((error = ureg_cache_clean(dir)) < 0)
		return cli_fail("cache clean", error);
	printf("%s: removed %" PRIu64 " file%s, %s\n", dir, u.files,
	       u.files == 1 ? "" : "s", size_text(size, sizeof(size), u.bytes));
	return 0;
}
