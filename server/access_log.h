/* SPDX-License-Identifier: Apache-2.0 */
/* The server's access log, buffered per thread like nginx's `access_log
 * ... buffer=64k flush=1s`: one write(2) per buffer, never per line. */
#ifndef UREG_SERVER_ACCESS_LOG_H
#define UREG_SERVER_ACCESS_LOG_H

#include <stddef.h>

#include "common/error.h"

/* Longest line kept; longer ones are cut and end in "...\n". */
#define UREG_ACCESS_LOG_LINE_MAX 2048

typedef struct ureg_access_log ureg_access_log;

typedef struct {
	size_t buffer_size; /* per thread, 0: 64 KiB; at least LINE_MAX */
	unsigned flush_ms;  /* the oldest buffered line waits at most this
	                       (plus one idle_ms tick); 0: 1000 */
	unsigned idle_ms;   /* a thread that logged nothing for this long is
	                       written out; 0: 100 */
	int immediate;      /* 1: one write per line; 0: buffer; -1: one
	                       write per line if the fd is a terminal */
} ureg_access_log_options;

#define UREG_ACCESS_LOG_OPTIONS_INIT                                           \
	{                                                                      \
		0, 0, 0, -1                                                    \
	}

/* Logs to `fd` (not closed by the log; NULL `opts`: defaults). Starts a
 * thread that writes out idle and old buffers. */
int ureg_access_log_open(ureg_access_log **out, int fd,
                         const ureg_access_log_options *opts) UREG_WARN_UNUSED;

/* Appends one line (`len` bytes, ending in '\n') to the calling thread's
 * buffer; written out when the buffer is nearly full, when its oldest line
 * is flush_ms old, when the thread is idle or at ureg_access_log_flush /
 * _free. Lines never interleave or tear: each write(2) holds whole lines
 * and writes are serialised. Thread-safe. Write errors are dropped (the log
 * has nowhere to report them). */
void ureg_access_log_line(ureg_access_log *log, const char *line, size_t len);

/* Writes out the calling thread's buffer now. Thread-safe; NULL is fine. */
void ureg_access_log_flush(ureg_access_log *log);

/* Writes out every thread's buffer and frees the log. Call it once no
 * thread logs any more. NULL is fine. */
void ureg_access_log_free(ureg_access_log *log);

#endif
