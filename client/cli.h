/* SPDX-License-Identifier: Apache-2.0 */
/* Shared pieces of the command line: error reporting, default paths,
 * passphrases, whole-file reads and atomic writes. Only CLI code (main.c,
 * cmd_*.c) uses these; they may print. */
#ifndef UREG_CLIENT_CLI_H
#define UREG_CLIENT_CLI_H

#include <stddef.h>

#define CLI_EXIT_USAGE 2

/* Prints "ureg: WHAT: <last library error>" and returns 1. */
int cli_fail(const char *what, int error);

/* $XDG_CONFIG_HOME/ureg (or ~/.config/ureg), $XDG_CACHE_HOME/ureg,
 * $XDG_DATA_HOME/ureg, written into `buf`. */
const char *cli_config_dir(char *buf, size_t len);
const char *cli_cache_dir(char *buf, size_t len);
const char *cli_data_dir(char *buf, size_t len);

/* mkdir -p with `mode` for the last component. 0 or -1 (message printed). */
int cli_mkdirs(const char *path, unsigned mode);

/* Reads a whole file (at most `max` bytes) into a NUL-terminated buffer;
 * -1 with a message printed on failure. */
int cli_read_file(char **out, size_t *len, const char *path, size_t max);

/* Writes via a temp file in the same directory + fsync + rename, with
 * `mode`. Refuses to replace an existing file unless `replace`. -1 with a
 * message printed on failure. */
int cli_write_file(const char *path, const void *data, size_t len,
                   unsigned mode, int replace);

/* Gets a passphrase: --passphrase-file (first line), else $UREG_PASSPHRASE,
 * else a prompt on the terminal without echo (asked twice if `confirm`).
 * `out` must hold `len` bytes; wipe it after use. -1 if none can be had. */
int cli_passphrase(char *out, size_t len, const char *file, int confirm);

/* Where a secret key is looked for when --key is not given: $UREG_KEY or
 * <config>/ureg.key. */
const char *cli_default_key(char *buf, size_t len);

/* UREG_TOKEN, else the token `ureg login` saved for `registry`, else
 * NULL. Caller frees. */
char *cli_token_for(const char *registry);

/* --registry, else ureg.json's, else $UREG_REGISTRY, else
 * http://127.0.0.1:5000. */
const char *cli_registry(const char *flag, const char *from_project);

struct ureg_secret_key;
/* Loads a secret key file, asking for a passphrase only if it is
 * encrypted. -1 with a message printed on failure. */
int cli_load_key(struct ureg_secret_key **out, const char *path,
                 const char *pass_file);

#endif
