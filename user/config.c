// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "config.h"

#include "zerospan_abi.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* "on" or "off" into *out; else -1 with a message naming the flag */
static int parse_on_off(const char *flag, const char *v, bool *out, char *err, size_t errlen)
{
	if (strcmp(v, "on") && strcmp(v, "off")) {
		snprintf(err, errlen, "%s '%s': expected on or off", flag, v);
		return -1;
	}
	*out = strcmp(v, "on") == 0;
	return 0;
}

/* Parses a whole decimal number in [lo, hi]. */
static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi || *s == '-')
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static void percent_decode(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '%' && s[1] && s[2]) {
			char hex[3] = { s[1], s[2], 0 }, *end;
			long v = strtol(hex, &end, 16);

			if (!*end) {
				*w++ = (char)v;
				s += 2;
				continue;
			}
		}
		*w++ = *s;
	}
	*w = 0;
}

static void trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	memmove(s, s + i, n - i + 1);
}

int zs_parse_kv_list(const char *s, struct zs_kv *out, int max)
{
	int n = 0;

	while (s && *s) {
		const char *comma = strchr(s, ','), *eq;
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		char item[768];

		if (len >= sizeof(item))
			return -1;
		memcpy(item, s, len);
		item[len] = 0;
		s = comma ? comma + 1 : NULL;
		trim(item);
		if (!item[0])
			continue;
		eq = strchr(item, '=');
		if (!eq || eq == item || n >= max)
			return -1;
		snprintf(out[n].key, sizeof(out[n].key), "%.*s", (int)(eq - item), item);
		snprintf(out[n].value, sizeof(out[n].value), "%s", eq + 1);
		trim(out[n].key);
		trim(out[n].value);
		percent_decode(out[n].value);
		n++;
	}
	return n;
}

int zs_config_from_env(struct zs_config *c, char *const *env, char *err, size_t errlen)
{
	const char *v;
	uint32_t u;

	memset(c, 0, sizeof(*c));
	/* OTEL_EXPORTER_OTLP_COMPRESSION's default is none (OpenTelemetry
	 * exporter spec); gzip costs the agent about 18 % more CPU
	 * (docs/BENCHMARKS.md) for about 10x fewer bytes. */
	c->gzip = false;
	c->inject = ZS_INJECT_ON;
	c->tls = true;
	c->yield = false;
	c->max_routes = 100;
	c->timeout_ms = 10000;
	c->metric_interval_ms = 60000;
	c->bsp_delay_ms = 5000;
	c->bsp_batch = 512;
	c->bsp_queue = 2048;
	c->print = ZS_PRINT_AUTO;
	snprintf(c->admin_addr, sizeof(c->admin_addr), "127.0.0.1:9464");
	c->capture_size = ZS_CAPTURE_MAX;
	c->ringbuf_mb = 4;
	c->max_conns = 65536;
	c->idle_timeout_s = 300;
	c->stats_interval_s = 60;
	c->k8s = ZS_K8S_AUTO;
	c->k8s_max_containers = 4096;
	snprintf(c->k8s_sa_dir, sizeof(c->k8s_sa_dir),
		 "/var/run/secrets/kubernetes.io/serviceaccount");
	if ((v = env_get(env, "KUBERNETES_SERVICE_HOST")) && *v) {
		const char *port = env_get(env, "KUBERNETES_SERVICE_PORT");

		snprintf(c->k8s_api, sizeof(c->k8s_api), "https://%s%s%s:%s",
			 strchr(v, ':') ? "[" : "", v, strchr(v, ':') ? "]" : "",
			 port && *port ? port : "443");
	}
	if ((v = env_get(env, "NODE_NAME")) && *v)
		snprintf(c->k8s_node, sizeof(c->k8s_node), "%s", v);

	if ((v = env_get(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) && *v) {
		snprintf(c->traces_url, sizeof(c->traces_url), "%s", v);
	} else if ((v = env_get(env, "OTEL_EXPORTER_OTLP_ENDPOINT")) && *v) {
		size_t n = strlen(v);

		snprintf(c->traces_url, sizeof(c->traces_url), "%s%sv1/traces", v,
			 n && v[n - 1] == '/' ? "" : "/");
	}
	if (c->traces_url[0] && strncmp(c->traces_url, "http://", 7) &&
	    strncmp(c->traces_url, "https://", 8)) {
		snprintf(err, errlen, "OTLP endpoint '%s': must start with http:// or https://",
			 c->traces_url);
		return -1;
	}
	if ((v = env_get(env, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")) && *v) {
		snprintf(c->metrics_url, sizeof(c->metrics_url), "%s", v);
	} else if ((v = env_get(env, "OTEL_EXPORTER_OTLP_ENDPOINT")) && *v) {
		size_t n = strlen(v);

		snprintf(c->metrics_url, sizeof(c->metrics_url), "%s%sv1/metrics", v,
			 n && v[n - 1] == '/' ? "" : "/");
	}
	if ((v = env_get(env, "OTEL_METRICS_EXPORTER")) && strcmp(v, "none") == 0)
		c->metrics_url[0] = 0;
	if (c->metrics_url[0] && strncmp(c->metrics_url, "http://", 7) &&
	    strncmp(c->metrics_url, "https://", 8)) {
		snprintf(err, errlen,
			 "OTLP metrics endpoint '%s': must start with http:// or https://",
			 c->metrics_url);
		return -1;
	}
	if ((v = env_get(env, "OTEL_METRIC_EXPORT_INTERVAL")) &&
	    parse_u32(v, 100, 86400000, &c->metric_interval_ms)) {
		snprintf(err, errlen, "OTEL_METRIC_EXPORT_INTERVAL '%s': expected 100..86400000 ms",
			 v);
		return -1;
	}
	if ((v = env_get(env, "OTEL_EXPORTER_OTLP_TRACES_HEADERS")) ||
	    (v = env_get(env, "OTEL_EXPORTER_OTLP_HEADERS"))) {
		int n = zs_parse_kv_list(v, c->headers, ZS_MAX_HEADERS_KV);

		if (n < 0) {
			snprintf(err, errlen,
				 "OTEL_EXPORTER_OTLP_HEADERS: expected key=value,key=value");
			return -1;
		}
		c->n_headers = n;
	}
	if ((v = env_get(env, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION")) ||
	    (v = env_get(env, "OTEL_EXPORTER_OTLP_COMPRESSION"))) {
		if (strcmp(v, "gzip") == 0)
			c->gzip = true;
		else if (strcmp(v, "none") == 0)
			c->gzip = false;
		else {
			snprintf(err, errlen,
				 "OTEL_EXPORTER_OTLP_COMPRESSION '%s': expected gzip or none", v);
			return -1;
		}
	}
	if ((v = env_get(env, "ZEROSPAN_SEND_TIME"))) {
		if (strcmp(v, "syscalls") == 0)
			c->send_time_syscalls = true;
		else if (strcmp(v, "fentry") == 0)
			c->send_time_fentry = true;
		else if (strcmp(v, "auto") != 0) {
			snprintf(err, errlen,
				 "ZEROSPAN_SEND_TIME '%s': expected auto, syscalls or fentry", v);
			return -1;
		}
	}
	if ((v = env_get(env, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")) ||
	    (v = env_get(env, "OTEL_EXPORTER_OTLP_TIMEOUT"))) {
		if (parse_u32(v, 1, 600000, &u)) {
			snprintf(err, errlen,
				 "OTEL_EXPORTER_OTLP_TIMEOUT '%s': expected milliseconds 1..600000",
				 v);
			return -1;
		}
		c->timeout_ms = u;
	}
	if (zs_sampler_parse(&c->sampler, env_get(env, "OTEL_TRACES_SAMPLER"),
			     env_get(env, "OTEL_TRACES_SAMPLER_ARG"))) {
		snprintf(err, errlen,
			 "OTEL_TRACES_SAMPLER '%s' / OTEL_TRACES_SAMPLER_ARG '%s': expected "
			 "always_on, always_off, traceidratio or parentbased_<one of them>, "
			 "and a ratio 0..1",
			 env_get(env, "OTEL_TRACES_SAMPLER") ?: "",
			 env_get(env, "OTEL_TRACES_SAMPLER_ARG") ?: "");
		return -1;
	}
	if ((v = env_get(env, "OTEL_BSP_SCHEDULE_DELAY"))) {
		if (parse_u32(v, 1, 600000, &u)) {
			snprintf(err, errlen,
				 "OTEL_BSP_SCHEDULE_DELAY '%s': expected milliseconds 1..600000",
				 v);
			return -1;
		}
		c->bsp_delay_ms = u;
	}
	if ((v = env_get(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"))) {
		if (parse_u32(v, 1, 100000, &u)) {
			snprintf(err, errlen,
				 "OTEL_BSP_MAX_EXPORT_BATCH_SIZE '%s': expected 1..100000", v);
			return -1;
		}
		c->bsp_batch = u;
	}
	if ((v = env_get(env, "OTEL_BSP_MAX_QUEUE_SIZE"))) {
		if (parse_u32(v, 1, 1000000, &u)) {
			snprintf(err, errlen, "OTEL_BSP_MAX_QUEUE_SIZE '%s': expected 1..1000000",
				 v);
			return -1;
		}
		c->bsp_queue = u;
	}
	if (c->bsp_batch > c->bsp_queue)
		c->bsp_batch = c->bsp_queue;
	if ((v = env_get(env, "OTEL_RESOURCE_ATTRIBUTES"))) {
		int n = zs_parse_kv_list(v, c->res_attrs, ZS_MAX_RES_ATTRS);

		if (n < 0) {
			snprintf(err, errlen,
				 "OTEL_RESOURCE_ATTRIBUTES: expected key=value,key=value");
			return -1;
		}
		c->n_res_attrs = n;
	}
	return 0;
}

void zs_config_usage(const char *argv0)
{
	printf("Usage: %s [options]\n"
	       "Traces every HTTP/1.x exchange on this host into spans, without touching the "
	       "apps.\n\n"
	       "  --print=text|json|none   spans on stdout (default: text without an OTLP "
	       "endpoint)\n"
	       "  --admin-addr=HOST:PORT   /metrics, /readyz, /healthz (default 127.0.0.1:9464, "
	       "'off')\n"
	       "  --pid=PID                trace only this process (repeatable)\n"
	       "  --exe=NAME               trace only processes with this name (repeatable)\n"
	       "  --port=PORT              trace only connections with this local or remote port "
	       "(repeatable)\n"
	       "  --capture-size=BYTES     header bytes copied per message, 256..%d (default %d)\n"
	       "  --ringbuf-mb=MB          kernel to agent buffer, power of two 1..1024 (default "
	       "4)\n"
	       "  --max-conns=N            connections tracked at most (default 65536)\n"
	       "  --idle-timeout=SECONDS   forget idle connections (default 300)\n"
	       "  --stats-interval=SECONDS periodic loss summary on stderr, 0 = off (default 60)\n"
	       "  --keep-query             export url.query (dropped by default: it may hold "
	       "secrets)\n"
	       "  --keep-cmdline           export process.command_line (dropped by default: "
	       "arguments may hold secrets)\n"
	       "  --inject=on|off|force    add traceparent to outgoing plaintext HTTP requests "
	       "(default on:\n"
	       "                           where the kernel leaves apps' reads intact; force: "
	       "also where\n"
	       "                           splice() readers of those connections would break)\n"
	       "  --tls=on|off             HTTPS plaintext from uprobes on OpenSSL and GnuTLS "
	       "(default on)\n"
	       "  --yield=on|off           the agent's busy threads use only CPU the traced "
	       "programs leave idle,\n"
	       "                           normal scheduling while their backlog grows "
	       "(default off)\n"
	       "  --route=PATTERN          a route template, e.g. '/users/{id}' or '/static/*' "
	       "(repeatable)\n"
	       "  --max-routes=N           distinct routes per service in metrics, beyond: "
	       "'/{overflow}' (default 100)\n"
	       "  --k8s=auto|on|off        pod metadata from the API server (default auto: on "
	       "inside a pod)\n"
	       "  --k8s-api=URL            API server (default https://$KUBERNETES_SERVICE_HOST:"
	       "$KUBERNETES_SERVICE_PORT)\n"
	       "  --k8s-node=NAME          this node's name (default $NODE_NAME, else the host "
	       "name)\n"
	       "  --k8s-sa-dir=DIR         service account token and ca.crt (default "
	       "/var/run/secrets/kubernetes.io/serviceaccount)\n"
	       "  --k8s-max-containers=N   containers remembered at most (default 4096)\n"
	       "  -v, --verbose            debug logging, libbpf output included\n"
	       "  -h, --help\n\n"
	       "Export: OTEL_EXPORTER_OTLP_ENDPOINT (traces to <endpoint>/v1/traces),\n"
	       "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,\n"
	       "OTEL_EXPORTER_OTLP_COMPRESSION (gzip|none), OTEL_EXPORTER_OTLP_TIMEOUT (ms),\n"
	       "OTEL_BSP_SCHEDULE_DELAY (ms), OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "
	       "OTEL_BSP_MAX_QUEUE_SIZE,\n"
	       "OTEL_RESOURCE_ATTRIBUTES. OTLP/HTTP protobuf.\n"
	       "Metrics: <endpoint>/v1/metrics or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, every\n"
	       "OTEL_METRIC_EXPORT_INTERVAL ms (60000); OTEL_METRICS_EXPORTER=none: off.\n"
	       "Sampling: OTEL_TRACES_SAMPLER (default parentbased_always_on),\n"
	       "OTEL_TRACES_SAMPLER_ARG.\n",
	       argv0, ZS_CAPTURE_MAX, ZS_CAPTURE_MAX);
}

int zs_config_from_args(struct zs_config *c, int argc, char **argv, char *err, size_t errlen)
{
	enum {
		O_PRINT = 256,
		O_ADMIN,
		O_PID,
		O_EXE,
		O_PORT,
		O_CAPTURE,
		O_RINGBUF,
		O_MAXCONNS,
		O_IDLE,
		O_STATS,
		O_QUERY,
		O_ERRORS,
		O_INJECT,
		O_YIELD,
		O_TLS,
		O_ROUTE,
		O_MAXROUTES,
		O_K8S,
		O_K8S_API,
		O_K8S_NODE,
		O_K8S_SA,
		O_K8S_MAX,
		O_CMDLINE
	};
	static const struct option opts[] = {
		{ "print", required_argument, NULL, O_PRINT },
		{ "admin-addr", required_argument, NULL, O_ADMIN },
		{ "pid", required_argument, NULL, O_PID },
		{ "exe", required_argument, NULL, O_EXE },
		{ "port", required_argument, NULL, O_PORT },
		{ "capture-size", required_argument, NULL, O_CAPTURE },
		{ "ringbuf-mb", required_argument, NULL, O_RINGBUF },
		{ "max-conns", required_argument, NULL, O_MAXCONNS },
		{ "idle-timeout", required_argument, NULL, O_IDLE },
		{ "stats-interval", required_argument, NULL, O_STATS },
		{ "keep-query", no_argument, NULL, O_QUERY },
		{ "keep-errors", no_argument, NULL, O_ERRORS },
		{ "keep-cmdline", no_argument, NULL, O_CMDLINE },
		{ "inject", required_argument, NULL, O_INJECT },
		{ "yield", required_argument, NULL, O_YIELD },
		{ "tls", required_argument, NULL, O_TLS },
		{ "route", required_argument, NULL, O_ROUTE },
		{ "max-routes", required_argument, NULL, O_MAXROUTES },
		{ "k8s", required_argument, NULL, O_K8S },
		{ "k8s-api", required_argument, NULL, O_K8S_API },
		{ "k8s-node", required_argument, NULL, O_K8S_NODE },
		{ "k8s-sa-dir", required_argument, NULL, O_K8S_SA },
		{ "k8s-max-containers", required_argument, NULL, O_K8S_MAX },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int o;
	uint32_t u;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (o) {
		case O_PRINT:
			if (strcmp(optarg, "text") == 0)
				c->print = ZS_PRINT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				c->print = ZS_PRINT_JSON;
			else if (strcmp(optarg, "none") == 0)
				c->print = ZS_PRINT_NONE;
			else
				goto bad;
			break;
		case O_ADMIN:
			if (strcmp(optarg, "off") == 0) {
				c->admin_addr[0] = 0;
				break;
			}
			if (!strrchr(optarg, ':') || strlen(optarg) >= sizeof(c->admin_addr))
				goto bad;
			snprintf(c->admin_addr, sizeof(c->admin_addr), "%s", optarg);
			break;
		case O_PID:
			if (parse_u32(optarg, 1, 0x7fffffff, &u) || c->n_pids >= ZS_MAX_SCOPE)
				goto bad;
			c->pids[c->n_pids++] = u;
			break;
		case O_EXE:
			if (!*optarg || c->n_exes >= ZS_MAX_SCOPE)
				goto bad;
			/* The kernel compares task comm: 15 characters at most. */
			snprintf(c->exes[c->n_exes++], 16, "%.15s", optarg);
			break;
		case O_PORT:
			if (parse_u32(optarg, 1, 65535, &u) || c->n_ports >= ZS_MAX_SCOPE)
				goto bad;
			c->ports[c->n_ports++] = (uint16_t)u;
			break;
		case O_CAPTURE:
			if (parse_u32(optarg, 256, ZS_CAPTURE_MAX, &u))
				goto bad;
			c->capture_size = u;
			break;
		case O_RINGBUF:
			if (parse_u32(optarg, 1, 1024, &u) || (u & (u - 1)))
				goto bad;
			c->ringbuf_mb = u;
			break;
		case O_MAXCONNS:
			if (parse_u32(optarg, 16, 10000000, &u))
				goto bad;
			c->max_conns = u;
			break;
		case O_IDLE:
			if (parse_u32(optarg, 1, 86400, &u))
				goto bad;
			c->idle_timeout_s = u;
			break;
		case O_STATS:
			if (parse_u32(optarg, 0, 86400, &u))
				goto bad;
			c->stats_interval_s = u;
			break;
		case O_QUERY:
			c->keep_query = true;
			break;
		case O_CMDLINE:
			c->keep_cmdline = true;
			break;
		case O_ERRORS:
			c->keep_errors = true;
			break;
		case O_INJECT: {
			bool on;

			if (strcmp(optarg, "force") == 0) {
				c->inject = ZS_INJECT_FORCE;
			} else if (parse_on_off("--inject", optarg, &on, err, errlen) == 0) {
				c->inject = on ? ZS_INJECT_ON : ZS_INJECT_OFF;
			} else {
				snprintf(err, errlen, "--inject '%s': expected on, off or force",
					 optarg);
				return -1;
			}
			break;
		}
		case O_YIELD:
			if (parse_on_off("--yield", optarg, &c->yield, err, errlen))
				return -1;
			break;
		case O_TLS:
			if (parse_on_off("--tls", optarg, &c->tls, err, errlen))
				return -1;
			break;
		case O_K8S:
			if (strcmp(optarg, "on") && strcmp(optarg, "off") &&
			    strcmp(optarg, "auto")) {
				snprintf(err, errlen, "--k8s '%s': expected auto, on or off",
					 optarg);
				return -1;
			}
			c->k8s = strcmp(optarg, "on") == 0    ? ZS_K8S_ON
				 : strcmp(optarg, "off") == 0 ? ZS_K8S_OFF
							      : ZS_K8S_AUTO;
			break;
		case O_K8S_API:
			if (strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8)) {
				snprintf(err, errlen, "--k8s-api '%s': expected an http(s):// URL",
					 optarg);
				return -1;
			}
			snprintf(c->k8s_api, sizeof(c->k8s_api), "%s", optarg);
			break;
		case O_K8S_NODE:
			snprintf(c->k8s_node, sizeof(c->k8s_node), "%s", optarg);
			break;
		case O_K8S_SA:
			snprintf(c->k8s_sa_dir, sizeof(c->k8s_sa_dir), "%s", optarg);
			break;
		case O_K8S_MAX:
			if (parse_u32(optarg, 1, 1000000, &c->k8s_max_containers))
				goto bad;
			break;
		case O_ROUTE:
			if (c->n_routes >= ZS_MAX_SCOPE)
				goto bad;
			c->routes[c->n_routes++] = optarg;
			break;
		case O_MAXROUTES:
			if (parse_u32(optarg, 1, 100000, &u))
				goto bad;
			c->max_routes = u;
			break;
		case 'v':
			c->verbose = true;
			break;
		case 'h':
			zs_config_usage(argv[0]);
			return 1;
		default:
			snprintf(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
		return -1;
	}
	if (c->print == ZS_PRINT_AUTO)
		c->print = c->traces_url[0] ? ZS_PRINT_NONE : ZS_PRINT_TEXT;
	return 0;
bad:
	/* The option's name by its value: opts[] need not follow the enum's order. */
	for (u = 0; opts[u].name && opts[u].val != o; u++)
		;
	snprintf(err, errlen, "invalid value '%s' for --%s (see --help)", optarg,
		 opts[u].name ? opts[u].name : "?");
	return -1;
}
