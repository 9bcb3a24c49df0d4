/* SPDX-License-Identifier: Apache-2.0 */
#include "common/timestamp.h"

#include <string.h>
#include <time.h>

void ureg_timestamp_format(char out[UREG_TIMESTAMP_LEN], int64_t unix_seconds)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    strftime(out, UREG_TIMESTAMP_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strcpy(out, "?");
}
