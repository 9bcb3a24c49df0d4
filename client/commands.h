/* SPDX-License-Identifier: Apache-2.0 */
/* The subcommands of `ureg`, one function each: argc/argv start at the
 * subcommand name; the return value is the exit code. */
#ifndef UREG_CLIENT_COMMANDS_H
#define UREG_CLIENT_COMMANDS_H

int ureg_cmd_keygen(int argc, char **argv);
int ureg_cmd_init(int argc, char **argv);
int ureg_cmd_login(int argc, char **argv);
int ureg_cmd_publish(int argc, char **argv);
int ureg_cmd_verify(int argc, char **argv);
int ureg_cmd_yank(int argc, char **argv);
int ureg_cmd_keys(int argc, char **argv);
int ureg_cmd_lock(int argc, char **argv);
int ureg_cmd_fetch(int argc, char **argv);
int ureg_cmd_push_image(int argc, char **argv);
int ureg_cmd_pull(int argc, char **argv);
int ureg_cmd_promote(int argc, char **argv);
int ureg_cmd_rollback(int argc, char **argv);
int ureg_cmd_history(int argc, char **argv);
int ureg_cmd_info(int argc, char **argv);
int ureg_cmd_cache(int argc, char **argv);

#endif
