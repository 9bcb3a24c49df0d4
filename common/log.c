/* SPDX-License-Identifier: Apache-2.0 */
/* Log sink plumbing: the library formats, the program decides where to. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>

static ureg_log_level log_max_level;
static ureg_log_sink log_sink;
static void *log_payload;

void ureg_log_set_sink(ureg_log_level max_level, ureg_log_sink sink,
                       void *payload)
{
	log_max_level = max_level;
	log_sink = sink;
	log_payload = payload;
}

int ureg_log_enabled(ureg_log_level level)
{
	return log_sink != NULL && level <= log_max_level;
}

void ureg_log__write(ureg_log_level level, const char *fmt, ...)
{
	char message[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (log_sink)
		log_sink(level, message, log_payload);
}
