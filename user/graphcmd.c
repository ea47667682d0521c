// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "graphcmd.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static size_t to_stdout(char *p, size_t size, size_t n, void *u)
{
	return fwrite(p, size, n, stdout) * size;
}

int zs_graph_command(int argc, char **argv)
{
	const char *addr = "127.0.0.1:9464", *format = "dot";
	char url[256];
	long code = 0;
	CURLcode rc;
	CURL *h;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dot") == 0) {
			format = "dot";
		} else if (strcmp(argv[i], "--json") == 0) {
			format = "json";
		} else if (strncmp(argv[i], "--admin-addr=", 13) == 0 && argv[i][13]) {
			addr = argv[i] + 13;
		} else {
			fprintf(stderr,
				"usage: zerospan graph [--dot|--json] [--admin-addr=HOST:PORT]\n"
				"  prints the service graph of the agent running with that admin "
				"address (default 127.0.0.1:9464)\n");
			return 2;
		}
	}
	snprintf(url, sizeof(url), "http://%s/api/graph?format=%s", addr, format);
	h = curl_easy_init();
	if (!h)
		return 1;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_stdout);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK || code != 200) {
		fprintf(stderr, "zerospan graph: %s: %s\n", url,
			rc != CURLE_OK ? curl_easy_strerror(rc) : "unexpected answer");
		return 1;
	}
	return 0;
}
