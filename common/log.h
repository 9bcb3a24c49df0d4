/* SPDX-License-Identifier: Apache-2.0 */
/* The one logging entry point of the library. Nothing is printed unless the
 * program (CLI or server) installs a sink. */
#ifndef UREG_COMMON_LOG_H
#define UREG_COMMON_LOG_H

#include "common/error.h"

typedef enum {
	UREG_LOG_ERROR = 1,
	UREG_LOG_WARN = 2,
	UREG_LOG_INFO = 3,
	UREG_LOG_DEBUG = 4,
} ureg_log_level;

typedef void (*ureg_log_sink)(ureg_log_level level, const char *message,
                              void *payload);

/* Installs `sink` for messages at `max_level` or more severe. Not thread
 * safe: call before starting threads. NULL sink silences the library. */
void ureg_log_set_sink(ureg_log_level max_level, ureg_log_sink sink,
                       void *payload);

int ureg_log_enabled(ureg_log_level level);

void ureg_log__write(ureg_log_level level, const char *fmt, ...)
        UREG_PRINTF(2, 3);

/* The level check happens before the arguments are formatted. */
#define ureg_log(level, ...)                                                   \
	do {                                                                   \
		if (ureg_log_enabled(level))                                   \
			ureg_log__write(level, __VA_ARGS__);                   \
	} while (0)

#endif
