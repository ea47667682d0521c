/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Agent configuration: command-line flags and the OTEL_* environment. */
#ifndef ZS_CONFIG_H
#define ZS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sampler.h"

#define ZS_MAX_SCOPE 64
#define ZS_MAX_HEADERS_KV 32
#define ZS_MAX_RES_ATTRS 32

enum zs_print_mode { ZS_PRINT_AUTO, ZS_PRINT_TEXT, ZS_PRINT_JSON, ZS_PRINT_NONE };
enum zs_k8s_mode { ZS_K8S_AUTO, ZS_K8S_ON, ZS_K8S_OFF };

struct zs_kv {
	char key[128];
	char value[512];
};

/* --inject: off; on where the kernel's sockmap leaves the apps' reads as
 * they were (the loader's self-test); force: on also where it would make
 * splice() readers of outgoing plaintext HTTP connections get no data. */
enum zs_inject_mode { ZS_INJECT_OFF, ZS_INJECT_ON, ZS_INJECT_FORCE };

struct zs_config {
	/* OTLP export */
	char traces_url[1024];	     /* empty: no export */
	char metrics_url[1024];	     /* empty: no metrics export */
	uint32_t metric_interval_ms; /* OTEL_METRIC_EXPORT_INTERVAL */
	struct zs_kv headers[ZS_MAX_HEADERS_KV];
	int n_headers;
	bool gzip;
	uint32_t timeout_ms;
	uint32_t bsp_delay_ms;
	uint32_t bsp_batch;
	uint32_t bsp_queue;
	struct zs_kv
		res_attrs[ZS_MAX_RES_ATTRS]; /* OTEL_RESOURCE_ATTRIBUTES, added to every resource */
	int n_res_attrs;
	/* output */
	enum zs_print_mode print;
	char admin_addr[128]; /* host:port, empty = off */
	/* scope */
	uint32_t pids[ZS_MAX_SCOPE];
	int n_pids;
	char exes[ZS_MAX_SCOPE][16];
	int n_exes;
	uint16_t ports[ZS_MAX_SCOPE];
	int n_ports;
	/* capture and limits */
	uint32_t capture_size;
	uint32_t ringbuf_mb;
	uint32_t max_conns;
	uint32_t idle_timeout_s;
	uint32_t stats_interval_s;
	bool keep_query;   /* url.query is dropped unless asked for */
	bool keep_cmdline; /* process.command_line likewise: it may carry secrets */
	/* sampling */
	struct zs_sampler sampler;  /* OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG */
	bool keep_errors;	    /* export ERROR spans of unsampled traces too */
	enum zs_inject_mode inject; /* --inject: traceparent into outgoing requests */
	bool tls;		    /* --tls=on|off: uprobes on TLS libraries */
	bool yield;		    /* --yield=on|off: busy threads SCHED_IDLE (yield.h) */
	bool send_time_syscalls;    /* ZEROSPAN_SEND_TIME=syscalls: time sends as before 6.16 */
	bool send_time_fentry; /* ZEROSPAN_SEND_TIME=fentry: time them by fentry on any kernel */
	/* routes and metrics */
	const char *routes[ZS_MAX_SCOPE]; /* --route patterns (argv strings) */
	int n_routes;
	uint32_t max_routes; /* --max-routes: distinct routes per service */
	/* Kubernetes metadata */
	enum zs_k8s_mode k8s;	     /* --k8s: auto = on when KUBERNETES_SERVICE_HOST is set */
	char k8s_api[512];	     /* --k8s-api, default https://$KUBERNETES_SERVICE_HOST:PORT */
	char k8s_node[256];	     /* --k8s-node, default $NODE_NAME, else the host name */
	char k8s_sa_dir[256];	     /* --k8s-sa-dir: token and ca.crt */
	uint32_t k8s_max_containers; /* --k8s-max-containers */
	bool verbose;
};

/* Defaults, then the OTEL_* variables from env (NULL-terminated "K=V"). Returns
 * 0, or -1 with a message in err for a malformed value. */
int zs_config_from_env(struct zs_config *c, char *const *env, char *err, size_t errlen);

/* Applies command-line flags. Returns 0, 1 for --help (usage printed), -1 with
 * a message in err. */
int zs_config_from_args(struct zs_config *c, int argc, char **argv, char *err, size_t errlen);

/* Parses "k1=v1,k2=v2" (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES:
 * values percent-decoded). Returns the pair count or -1. */
int zs_parse_kv_list(const char *s, struct zs_kv *out, int max);

void zs_config_usage(const char *argv0);

#endif
