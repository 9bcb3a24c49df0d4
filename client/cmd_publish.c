/* SPDX-License-Identifier: Apache-2.0 */
/* `ureg init`, `ureg login` and `ureg publish`. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/cli.h"
#include "client/commands.h"
#include "client/http.h"
#include "client/publish.h"
#include "common/archive.h"
#include "common/sign.h"
#include "lockfiles/project.h"

#define DEFAULT_REGISTRY "http://127.0.0.1:5000"

/* --- registry and token lookup ---------------------------------------------
 */

/* The file `ureg login` keeps a registry's token in. */
static void token_path(char *buf, size_t len, const char *registry)
{
	char dir[4096], name[512];
	size_t i, n = 0;

	for (i = 0; registry[i] && n + 1 < sizeof(name); i++) {
		char c = registry[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		         (c >= '0' && c <= '9') || c == '.' || c == '-';
		name[n++] = ok ? c : '_';
	}
	name[n] = '\0';
	snprintf(buf, len, "%s/tokens/%s", cli_config_dir(dir, sizeof(dir)),
	         name);
}

/* UREG_TOKEN, else the token saved by `ureg login` for this registry, else
 * NULL. Caller frees. */
char *cli_token_for(const char *registry)
{
	const char *env = getenv("UREG_TOKEN");
	char path[4600], *text = NULL;
	size_t len = 0;

	if (env && *env)
		return strdup(env);
	token_path(path, sizeof(path), registry);
	if (access(path, R_OK) != 0 ||
	    cli_read_file(&text, &len, path, 4096) < 0)
		return NULL;
	text[strcspn(text, "\r\n")] = '\0';
	return text;
}

/* --registry, else ureg.json's, else $UREG_REGISTRY, else the default. */
const char *cli_registry(const char *flag, const char *from_project)
{
	const char *env = getenv("UREG_REGISTRY");

	if (flag)
		return flag;
	if (from_project)
		return from_project;
	if (env && *env)
		return env;
	return DEFAULT_REGISTRY;
}

/* --- init --------------------------------------------------------------------
 */

int ureg_cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"name", required_argument, NULL, 'n'},
	        {"registry", required_argument, NULL, 'r'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	static const char usage[] =
	        "usage: ureg init [--name NAME] [--registry URL] [DIR]\n"
	        "  writes DIR/ureg.json (default .) for package NAME "
	        "(default:\n"
	        "  the directory's name) with the registry --registry, else\n"
	        "  $UREG_REGISTRY, else " DEFAULT_REGISTRY "\n";
	const char *name = NULL, *dir = ".", *registry_flag = NULL;
	char path[4200], *text = NULL, base[4096];
	int c, error, rc;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'r':
			registry_flag = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc)
		dir = argv[optind];
	if (!name) {
		/* the directory's own name, if it is a valid package name */
		char cwd[4096];
		const char *slash;
		if (!realpath(dir, cwd)) {
			fprintf(stderr, "ureg: init: \"%s\": %s\n", dir,
			        strerror(errno));
			return 1;
		}
		slash = strrchr(cwd, '/');
		snprintf(base, sizeof(base), "%s", slash ? slash + 1 : cwd);
		name = base;
	}
	if ((error = ureg_project_init_template(
	             &text, name, cli_registry(registry_flag, NULL))) < 0)
		return cli_fail("init", error);
	snprintf(path, sizeof(path), "%s/ureg.json", dir);
	rc = cli_write_file(path, text, strlen(text), 0644, 0) < 0 ? 1 : 0;
	if (rc == 0)
		printf("wrote %s\n", path);
	free(text);
	return rc;
}

/* --- login -------------------------------------------------------------------
 */

int ureg_cmd_login(int argc, char **argv)
{
	char line[512], path[4600], dir[4600];
	ureg_client *client = NULL;
	ureg_response resp;
	int error;

	if (argc != 2 || argv[1][0] == '-') {
		fputs("usage: ureg login REGISTRY   (reads the token from "
		      "stdin)\n",
		      argc == 2 ? stdout : stderr);
		return argc == 2 ? 0 : CLI_EXIT_USAGE;
	}
	if (!fgets(line, sizeof(line), stdin)) {
		fputs("ureg: login: no token on standard input\n", stderr);
		return 1;
	}
	line[strcspn(line, "\r\n")] = '\0';
	if ((error = ureg_client_new(&client, argv[1], line, NULL)) < 0)
		return cli_fail("login", error);
	error = ureg_client_request(&resp, client, "GET", "/v2/", NULL, NULL,
	                            NULL, 0, 65536);
	ureg_client_free(client);
	if (error < 0)
		return cli_fail("login", error);
	if (resp.status != 200) {
		error = ureg_client_status_error(&resp, "login");
		ureg_response_clear(&resp);
		return cli_fail("login", error);
	}
	ureg_response_clear(&resp);
	token_path(path, sizeof(path), argv[1]);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	if (cli_mkdirs(dir, 0700) < 0 ||
	    cli_write_file(path, line, strlen(line), 0600, 1) < 0)
		return 1;
	explicit_bzero(line, sizeof(line));
	printf("token for %s saved in %s\n", argv[1], path);
	return 0;
}

/* --- publish -----------------------------------------------------------------
 */

static const char publish_usage[] =
        "usage: ureg publish [DIR] [--registry URL] [--key FILE]\n"
        "                    [--passphrase-file FILE] [--dry-run] [--json]\n"
        "  packs DIR (default .) as described by DIR/ureg.json, signs it and\n"
        "  pushes it; the token comes from UREG_TOKEN or `ureg login`.\n"
        "  --dry-run pushes nothing and lists every file the package would\n"
        "  hold (VCS directories and DIR/.uregignore matches are left out)\n";

static void show_progress(const char *what, uint64_t done, uint64_t total,
                          void *payload)
{
	(void)payload;
	fprintf(stderr, "\r%s %3d%% (%" PRIu64 " / %" PRIu64 " bytes)", what,
	        total ? (int)(done * 100 / total) : 100, done, total);
	if (done == total)
		fputc('\n', stderr);
}

/* What --dry-run lists: every entry the package holds, as packed. */
typedef struct {
	FILE *out; /* memory stream, printed after the digests */
	size_t files, dirs;
	uint64_t bytes;
} entry_list;

static void list_entry(const char *path, int is_dir, uint64_t size, int exec,
                       void *payload)
{
	entry_list *l = payload;

	if (is_dir) {
		l->dirs++;
		fprintf(l->out, "  %s/\n", path);
		return;
	}
	l->files++;
	l->bytes += size;
	fprintf(l->out, "  %s  %" PRIu64 " byte%s%s\n", path, size,
	        size == 1 ? "" : "s", exec ? ", executable" : "");
}

/* Loads the secret key, asking for a passphrase only if it is encrypted. */
int cli_load_key(ureg_secret_key **out, const char *path, const char *pass_file)
{
	char *text = NULL, passphrase[1024] = "";
	size_t len = 0;
	int needs, error;

	*out = NULL;
	if (cli_read_file(&text, &len, path, 65536) < 0) {
		fputs("ureg: make a key with `ureg keygen` or name one with "
		      "--key\n",
		      stderr);
		return -1;
	}
	if ((needs = ureg_secret_key_needs_passphrase(text, len)) < 0) {
		free(text);
		return cli_fail(path, needs) ? -1 : -1;
	}
	if (needs &&
	    cli_passphrase(passphrase, sizeof(passphrase), pass_file, 0) < 0) {
		free(text);
		return -1;
	}
	error = ureg_secret_key_load(out, text, len, needs ? passphrase : NULL);
	explicit_bzero(passphrase, sizeof(passphrase));
	explicit_bzero(text, len);
	free(text);
	if (error < 0) {
		cli_fail(path, error);
		return -1;
	}
	return 0;
}

static void print_digest(FILE *f, const char *label, const ureg_digest *d)
{
	char text[UREG_DIGEST_STRLEN + 1];

	ureg_digest_format(text, d);
	fprintf(f, "%-10s %s\n", label, text);
}

static void print_json(const ureg_project *p, const ureg_publish_result *r,
                       int dry_run)
{
	char m[UREG_DIGEST_STRLEN + 1], c[UREG_DIGEST_STRLEN + 1],
	        l[UREG_DIGEST_STRLEN + 1], t[UREG_DIGEST_STRLEN + 1],
	        s[UREG_DIGEST_STRLEN + 1];

	ureg_digest_format(m, &r->manifest);
	ureg_digest_format(c, &r->config);
	ureg_digest_format(l, &r->layer);
	ureg_digest_format(t, &r->tree);
	ureg_digest_format(s, &r->signature);
	printf("{\"already_published\":%s,\"blobs_skipped\":%zu,"
	       "\"blobs_uploaded\":%zu,\"config\":\"%s\",\"dry_run\":%s,"
	       "\"key\":\"%s\",\"layer\":\"%s\",\"layer_size\":%" PRIu64
	       ",\"manifest\":\"%s\",\"name\":\"%s\",\"signature\":\"%s\","
	       "\"tree\":\"%s\",\"version\":\"%s\"}\n",
	       r->already_published ? "true" : "false", r->blobs_skipped,
	       r->blobs_uploaded, c, dry_run ? "true" : "false", r->key_id, l,
	       r->layer_size, m, p->name, s, t, p->version);
}

int ureg_cmd_publish(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"registry", required_argument, NULL, 'r'},
	        {"key", required_argument, NULL, 'k'},
	        {"passphrase-file", required_argument, NULL, 'p'},
	        {"dry-run", no_argument, NULL, 'n'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *dir = ".", *registry_flag = NULL, *pass_file = NULL;
	const char *epoch = getenv("SOURCE_DATE_EPOCH");
	char keybuf[4096], path[4200], *token = NULL;
	const char *key_path = NULL;
	ureg_project *project = NULL;
	ureg_secret_key *key = NULL;
	ureg_publish_package pkg;
	ureg_publish_options opts;
	ureg_publish_result result;
	entry_list entries = {NULL, 0, 0, 0};
	char *listing = NULL;
	size_t listing_len = 0;
	ureg_publish_dep *deps = NULL;
	size_t i, k, ndeps = 0, total = 0;
	int c, dry_run = 0, json = 0, rc = 1, error;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			registry_flag = optarg;
			break;
		case 'k':
			key_path = optarg;
			break;
		case 'p':
			pass_file = optarg;
			break;
		case 'n':
			dry_run = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			fputs(publish_usage, stdout);
			return 0;
		default:
			fputs(publish_usage, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc)
		dir = argv[optind++];
	if (optind != argc) {
		fputs(publish_usage, stderr);
		return CLI_EXIT_USAGE;
	}
	memset(&opts, 0, sizeof(opts));
	if (epoch &&
	    ureg_archive_parse_epoch(&opts.source_date_epoch, epoch) < 0)
		return cli_fail("SOURCE_DATE_EPOCH", -1);
	snprintf(path, sizeof(path), "%s/ureg.json", dir);
	if ((error = ureg_project_load(&project, path)) < 0)
		return cli_fail(path, error);
	if (!key_path)
		key_path = cli_default_key(keybuf, sizeof(keybuf));
	if (cli_load_key(&key, key_path, pass_file) < 0)
		goto done;
	/* the package's dependencies: common ones, then per target */
	total = project->ndeps;
	for (i = 0; i < project->ntarget_deps; i++)
		total += project->target_deps[i].ndeps;
	if (total && !(deps = calloc(total, sizeof(*deps)))) {
		fputs("ureg: out of memory\n", stderr);
		goto done;
	}
	for (i = 0; i < project->ndeps; i++) {
		deps[ndeps].name = project->deps[i].name;
		deps[ndeps].range = project->deps[i].range;
		deps[ndeps++].target = NULL;
	}
	for (i = 0; i < project->ntarget_deps; i++)
		for (k = 0; k < project->target_deps[i].ndeps; k++) {
			deps[ndeps].name = project->target_deps[i].deps[k].name;
			deps[ndeps].range =
			        project->target_deps[i].deps[k].range;
			deps[ndeps++].target = project->target_deps[i].target;
		}
	pkg.name = project->name;
	pkg.version = project->version;
	pkg.description = project->description;
	pkg.license = project->license;
	pkg.targets = (const char *const *)project->targets;
	pkg.ntargets = project->ntargets;
	pkg.deps = deps;
	pkg.ndeps = ndeps;
	opts.dir = dir;
	opts.registry = cli_registry(registry_flag, project->registry);
	opts.token = token = cli_token_for(opts.registry);
	opts.key = key;
	opts.dry_run = dry_run;
	if (!json && isatty(STDERR_FILENO))
		opts.progress = show_progress;
	if (dry_run && !json) {
		if (!(entries.out = open_memstream(&listing, &listing_len))) {
			fputs("ureg: out of memory\n", stderr);
			goto done;
		}
		opts.on_entry = list_entry;
		opts.payload = &entries;
	}
	error = ureg_publish(&result, &pkg, &opts);
	if (entries.out)
		fclose(entries.out);
	if (error < 0) {
		rc = cli_fail("publish", error);
		goto done;
	}
	if (json) {
		print_json(project, &result, dry_run);
	} else {
		if (dry_run)
			printf("%s %s (dry run: nothing pushed)\n",
			       project->name, project->version);
		else if (result.already_published)
			printf("%s %s is already published with the same "
			       "content\n",
			       project->name, project->version);
		else
			printf("%s %s published to %s\n", project->name,
			       project->version, opts.registry);
		print_digest(stdout, "manifest", &result.manifest);
		print_digest(stdout, "config", &result.config);
		print_digest(stdout, "layer", &result.layer);
		print_digest(stdout, "tree", &result.tree);
		print_digest(stdout, "signature", &result.signature);
		printf("%-10s %s\n", "key", result.key_id);
		if (!dry_run && !result.already_published)
			printf("%-10s %zu uploaded, %zu already there\n",
			       "blobs", result.blobs_uploaded,
			       result.blobs_skipped);
		if (entries.out) {
			printf("%-10s %zu file%s, %zu director%s, %" PRIu64
			       " bytes\n%s",
			       "files", entries.files,
			       entries.files == 1 ? "" : "s", entries.dirs,
			       entries.dirs == 1 ? "y" : "ies", entries.bytes,
			       listing ? listing : "");
		}
	}
	rc = 0;
done:
	free(listing);
	free(deps);
	if (token)
		explicit_bzero(token, strlen(token));
	free(token);
	ureg_secret_key_free(key);
	ureg_project_free(project);
	return rc;
}
