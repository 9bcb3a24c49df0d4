/* SPDX-License-Identifier: Apache-2.0 */
/* `ureg lock`: resolve ureg.json for every target and write ureg.lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/cli.h"
#include "client/commands.h"
#include "client/lockfile.h"

static const char lock_usage[] =
        "usage: ureg lock [DIR] [--update [NAME...]] [--check]\n"
        "                 [--accept-signer NAME] [--registry URL]\n"
        "  resolves DIR/ureg.json (default .) for all its targets at once and\n"
        "  writes DIR/ureg.lock; locked versions are kept while they satisfy\n"
        "  --update         move every package (or the NAMEs) to the newest\n"
        "  --check          exit 1 with the reason if ureg.lock is stale (CI)\n"
        "  --accept-signer  accept a new signing key for package NAME\n";

/* After --update, names and the project directory can both follow: a
 * directory holding a ureg.json is the project. */
static int is_project_dir(const char *arg)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/ureg.json", arg);
	return access(path, F_OK) == 0;
}

int ureg_cmd_lock(int argc, char **argv)
{
	const char *dir = ".", *registry_flag = NULL;
	const char *update[256], *accept[256];
	size_t nupdate = 0, naccept = 0, i;
	int update_all = 0, check = 0, in_update = 0, rc = 1, error;
	char path[4200], lockpath[4200], cache[4096], *token = NULL;
	ureg_project *project = NULL;
	ureg_lock *previous = NULL;
	ureg_lockfile_options opts;
	ureg_lockfile_result result;

	memset(&result, 0, sizeof(result));
	for (i = 1; i < (size_t)argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(lock_usage, stdout);
			return 0;
		} else if (strcmp(a, "--update") == 0) {
			in_update = 1;
			update_all = 1;
		} else if (strcmp(a, "--check") == 0) {
			check = 1;
			in_update = 0;
		} else if ((strcmp(a, "--registry") == 0 ||
		            strcmp(a, "--accept-signer") == 0) &&
		           i + 1 < (size_t)argc) {
			if (a[2] == 'r')
				registry_flag = argv[++i];
			else if (naccept < 256)
				accept[naccept++] = argv[++i];
			in_update = 0;
		} else if (a[0] == '-') {
			fputs(lock_usage, stderr);
			return CLI_EXIT_USAGE;
		} else if (in_update && nupdate < 256 && !is_project_dir(a)) {
			update[nupdate++] = a;
			update_all = 0;
		} else {
			dir = a;
		}
	}
	snprintf(path, sizeof(path), "%s/ureg.json", dir);
	snprintf(lockpath, sizeof(lockpath), "%s/ureg.lock", dir);
	if ((error = ureg_project_load(&project, path)) < 0)
		return cli_fail(path, error);
	if (project->ntargets == 0) {
		fprintf(stderr,
		        "ureg: %s lists no \"targets\": a project names the "
		        "targets it is built for (e.g. [\"unix\", \"hvt\"])\n",
		        path);
		ureg_project_free(project);
		return 1;
	}
	if (access(lockpath, F_OK) == 0 &&
	    (error = ureg_lock_load(&previous, lockpath)) < 0) {
		rc = cli_fail(lockpath, error);
		goto done;
	}
	if (check) {
		if (!previous) {
			fprintf(stderr,
			        "ureg: lock --check: no %s: run ureg "
			        "lock\n",
			        lockpath);
			goto done;
		}
		if ((error = ureg_lockfile_check(previous, project)) < 0) {
			rc = cli_fail("lock --check", error);
			goto done;
		}
		printf("%s is up to date with %s\n", lockpath, path);
		rc = 0;
		goto done;
	}
	memset(&opts, 0, sizeof(opts));
	opts.registry = cli_registry(registry_flag, project->registry);
	opts.token = token = cli_token_for(opts.registry);
	opts.cache_dir = cli_cache_dir(cache, sizeof(cache));
	cli_mkdirs(cache, 0755);
	opts.previous = previous;
	opts.update_all = update_all;
	opts.update = update;
	opts.nupdate = nupdate;
	opts.accept_signers = accept;
	opts.naccept = naccept;
	if ((error = ureg_lockfile_make(&result, project, &opts)) < 0) {
		rc = cli_fail("lock", error);
		if (result.explanation && *result.explanation)
			fputs(result.explanation, stderr);
		goto done;
	}
	for (i = 0; i < result.nnew_signers; i++)
		fprintf(stderr, "ureg: trusting key %s for %s (first use)\n",
		        result.new_signers[i].key_id,
		        result.new_signers[i].name);
	if ((error = ureg_lock_save(result.lock, lockpath)) < 0) {
		rc = cli_fail(lockpath, error);
		goto done;
	}
	printf("locked %zu package%s for %zu target%s in %s\n",
	       ureg_lock_package_count(result.lock),
	       ureg_lock_package_count(result.lock) == 1 ? "" : "s",
	       ureg_lock_target_count(result.lock),
	       ureg_lock_target_count(result.lock) == 1 ? "" : "s", lockpath);
	for (i = 0; i < ureg_lock_package_count(result.lock); i++) {
		const ureg_lock_package *p =
		        ureg_lock_package_at(result.lock, i);
		size_t t;
		printf("  %s %s (", p->name, p->version);
		for (t = 0; t < p->ntargets; t++)
			printf("%s%s", t ? ", " : "", p->targets[t]);
		printf(")\n");
	}
	for (i = 0; i < ureg_lock_image_count(result.lock); i++) {
		const ureg_lock_image *im = ureg_lock_image_at(result.lock, i);
		char digest[UREG_DIGEST_STRLEN + 1];

		ureg_digest_format(digest, &im->digest);
		printf("  image %s: %s (%s) -> %s\n", im->alias, im->ref,
		       im->target, digest);
	}
	rc = 0;
done:
	ureg_lockfile_result_clear(&result);
	ureg_lock_free(previous);
	ureg_project_free(project);
	free(token);
	return rc;
}
