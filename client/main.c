/* SPDX-License-Identifier: Apache-2.0 */
/* The `ureg` command: parses the subcommand and turns library errors into
 * messages and exit codes. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	(void)argv;
	if (argc < 2) {
		fprintf(stderr, "usage: ureg <command> [options]\n");
		return 2;
	}
	return 2;
}
