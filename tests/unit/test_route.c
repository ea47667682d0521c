// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Routes: id-like segments collapse, user patterns win, the result is bounded. */
#include "route.h"
#include "zs_test.h"

static void route_is(const char *path, const char *want)
{
	char out[ZS_ROUTE_MAX];

	zs_route_of(path, out, sizeof(out));
	CHECK(strcmp(out, want) == 0, "%s -> '%s', want '%s'", path, out, want);
}

static void ids(void)
{
	static const char *const yes[] = {
		"42",
		"0",
		"2024-01-31",
		"12:30",
		"1.5",
		"550e8400-e29b-41d4-a716-446655440000",
		"5f3a09c2",
		"DEADBEEF01",
		"0123456789abcdef0123456789abcdef",
		"aGVsbG8gd29ybGQ12345xyz",
		"tok_4eC39HqLyjWDarjtT1zdp7dc",
		"a1b2c3d4e5f6a7b8",
	};
	static const char *const no[] = {
		"users",    "v1",	"api2",		"index.html",
		"deadbeef", "settings", "user-profile", "authentication-settings",
		"abc",	    "ünïcode",	"a b",		"",
	};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		CHECK(zs_route_segment_is_id(yes[i], strlen(yes[i])), "'%s' should be an id",
		      yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		CHECK(!zs_route_segment_is_id(no[i], strlen(no[i])), "'%s' is not an id", no[i]);
}

static void collapse(void)
{
	route_is("/", "/");
	route_is("", "/");
	route_is("*", "*");
	route_is("/users/42", "/users/{id}");
	route_is("/users/42/orders/550e8400-e29b-41d4-a716-446655440000",
		 "/users/{id}/orders/{id}");
	route_is("/api/v1/items", "/api/v1/items");
	route_is("/api/v1/items/", "/api/v1/items/");
	route_is("/static/app.5f3a09c2.js", "/static/app.5f3a09c2.js");
	route_is("/static/5f3a09c2", "/static/{id}");
	route_is("//a//7", "//a//{id}");
	route_is("/reports/2024-01-31/summary", "/reports/{id}/summary");
}

static void patterns(void)
{
	char err[256];

	zs_route_clear_patterns();
	CHECK(zs_route_add_pattern("/users/{name}", err, sizeof(err)) == 0, "%s", err);
	CHECK(zs_route_add_pattern("/static/*", err, sizeof(err)) == 0, "%s", err);
	CHECK(zs_route_add_pattern("users", err, sizeof(err)) == -1 && strstr(err, "start with"),
	      "no slash: %s", err);
	CHECK(zs_route_add_pattern("/a/*/b", err, sizeof(err)) == -1 && strstr(err, "last"),
	      "star inside: %s", err);
	CHECK(zs_route_add_pattern("/a?x=1", err, sizeof(err)) == -1 && strstr(err, "'?'"),
	      "query: %s", err);
	route_is("/users/alice", "/users/{name}");
	route_is("/users/alice/posts", "/users/alice/posts"); /* one segment only */
	route_is("/users/", "/users/");			      /* an empty segment is not one */
	route_is("/static/css/site.css", "/static/*");
	route_is("/static", "/static");
	route_is("/other/42", "/other/{id}");
	zs_route_clear_patterns();
	route_is("/users/alice", "/users/alice");
}

static void bounded(void)
{
	char path[8192], out[ZS_ROUTE_MAX];
	size_t i;

	for (i = 0; i + 2 < sizeof(path); i += 2) {
		path[i] = '/';
		path[i + 1] = 'a';
	}
	path[i] = 0;
	zs_route_of(path, out, sizeof(out));
	CHECK(strlen(out) < ZS_ROUTE_MAX && out[0] == '/', "long path: %zu", strlen(out));
	zs_route_of("/x", out, 2);
	CHECK(strcmp(out, "/") == 0, "tiny buffer: '%s'", out);
}

int main(void)
{
	ids();
	collapse();
	patterns();
	bounded();
	return zs_test_done("route");
}
