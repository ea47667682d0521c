/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One leveled logger, to stderr. libbpf's output is routed here too. */
#ifndef ZS_LOG_H
#define ZS_LOG_H

enum zs_log_level { ZS_LOG_DEBUG, ZS_LOG_INFO, ZS_LOG_WARN, ZS_LOG_ERROR };

extern int zs_log_level;

void zs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) zs_log(ZS_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) zs_log(ZS_LOG_INFO, __VA_ARGS__)
#define log_warn(...) zs_log(ZS_LOG_WARN, __VA_ARGS__)
#define log_error(...) zs_log(ZS_LOG_ERROR, __VA_ARGS__)

#endif
