// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Pod metadata from Pod objects as the API server sends them (json-c): owners,
 * container ids, service names, list/watch updates and the table bound. */
#include "k8s/pods.h"
#include "zs_test.h"

#include <json-c/json.h>
#include <stdlib.h>

#define ID_APP "3f1c9a0e6b5d4c2a8e7f90123456789abcdef0123456789abcdef0123456789a"
#define ID_SIDE "aaaa9a0e6b5d4c2a8e7f90123456789abcdef0123456789abcdef0123456789a"
#define ID_INIT "bbbb9a0e6b5d4c2a8e7f90123456789abcdef0123456789abcdef0123456789a"
#define ID_NEW "eeee9a0e6b5d4c2a8e7f90123456789abcdef0123456789abcdef0123456789a"
#define UID "8f2c1d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f"

static struct json_object *fixture(const char *dir)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/k8s_pod.json", dir);
	return json_object_from_file(path);
}

/* A small pod: owner kind/name, labels, container ids given as text. */
static struct json_object *pod(const char *uid, const char *name, const char *owner_kind,
			       const char *owner_name, const char *labels, const char *statuses)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"uid\":\"%"
		 "s\","
		 "\"labels\":{%s}%s%s%s%s%s},\"spec\":{\"nodeName\":\"n1\",\"containers\":"
		 "[{\"name\":\"c\"}]},\"status\":{\"containerStatuses\":[%s]}}",
		 name, uid, labels, owner_kind ? ",\"ownerReferences\":[{\"kind\":\"" : "",
		 owner_kind ? owner_kind : "", owner_kind ? "\",\"name\":\"" : "",
		 owner_kind ? owner_name : "", owner_kind ? "\",\"controller\":true}]" : "",
		 statuses);
	return json_tokener_parse(text);
}

static void container_ids(void)
{
	char id[65];

	CHECK(zs_k8s_container_id("containerd://" ID_APP, id) && strcmp(id, ID_APP) == 0, "cd");
	CHECK(zs_k8s_container_id("cri-o://" ID_APP, id), "crio");
	CHECK(zs_k8s_container_id("docker://" ID_APP, id), "docker");
	CHECK(zs_k8s_container_id(
		      "containerd://AAAA9A0E6B5D4C2A8E7F90123456789ABCDEF0123456789ABCDEF"
		      "0123456789A",
		      id) &&
		      strcmp(id, ID_SIDE) == 0,
	      "upper case is lowered: %s", id);
	CHECK(!zs_k8s_container_id(ID_APP, id), "no scheme");
	CHECK(!zs_k8s_container_id("containerd://1234", id), "short");
	CHECK(!zs_k8s_container_id("containerd://" ID_APP "0", id), "long");
	CHECK(!zs_k8s_container_id("containerd://" ID_APP "/x", id), "trailing");
	CHECK(!zs_k8s_container_id("containerd://zz1c9a0e6b5d4c2a8e7f90123456789abcdef0123456789a"
				   "bcdef0123456789a",
				   id),
	      "not hex");
	CHECK(!zs_k8s_container_id("", id) && !zs_k8s_container_id(NULL, id), "empty");
}

static void deployment_pod(const char *dir)
{
	struct zs_k8s_pods *p = zs_k8s_pods_new(16);
	struct json_object *o = fixture(dir);
	struct zs_k8s_meta m;
	uint64_t dropped = 0, g0;

	CHECK(o != NULL, "fixture %s/k8s_pod.json", dir);
	if (!o || !p)
		return;
	g0 = zs_k8s_pods_generation(p);
	CHECK(zs_k8s_pods_apply(p, ZS_K8S_ADDED, o, &dropped) == 3, "3 containers");
	CHECK(zs_k8s_pods_generation(p) > g0, "generation moves");
	CHECK(zs_k8s_pods_count(p) == 3 && dropped == 0, "count %u", zs_k8s_pods_count(p));

	CHECK(zs_k8s_pods_lookup(p, ID_APP, NULL, &m), "app found");
	CHECK_STR(m.pod_name, "checkout-7d9f8b6c5d-x2k4q");
	CHECK_STR(m.pod_uid, UID);
	CHECK_STR(m.namespace_name, "shop");
	CHECK_STR(m.node_name, "node-a");
	CHECK_STR(m.container_name, "app");
	CHECK_STR(m.owner_kind, "deployment");
	CHECK_STR(m.owner_name, "checkout");
	CHECK_STR(m.replicaset_name, "checkout-7d9f8b6c5d");
	CHECK_STR(m.env_service, "checkout-api");
	CHECK_STR(zs_k8s_service_name(&m), "checkout-api");

	/* valueFrom is not a value; an empty app.kubernetes.io/name is no name */
	CHECK(zs_k8s_pods_lookup(p, ID_SIDE, NULL, &m), "sidecar (upper-case id) found");
	CHECK_STR(m.container_name, "sidecar");
	CHECK_STR(m.env_service, "");
	CHECK_STR(zs_k8s_service_name(&m), "checkout");

	CHECK(zs_k8s_pods_lookup(p, ID_INIT, NULL, &m), "init container found");
	CHECK_STR(m.container_name, "migrate");

	/* Not listed yet: the pod by its uid, no container name (3 containers). */
	CHECK(zs_k8s_pods_lookup(p, ID_NEW, UID, &m), "pod fallback");
	CHECK_STR(m.pod_name, "checkout-7d9f8b6c5d-x2k4q");
	CHECK_STR(m.container_name, "");
	CHECK_STR(m.container_id, "");
	CHECK(!zs_k8s_pods_lookup(p, ID_NEW, NULL, &m), "unknown id, no uid");
	CHECK(!zs_k8s_pods_lookup(p, "", "", &m), "empty keys");

	CHECK(zs_k8s_pods_apply(p, ZS_K8S_DELETED, o, &dropped) == 0, "deleted");
	CHECK(zs_k8s_pods_count(p) == 0, "all containers gone");
	CHECK(!zs_k8s_pods_lookup(p, ID_APP, UID, &m), "not found after delete");
	json_object_put(o);
	zs_k8s_pods_free(p);
}

/* A pod (uid) owned by a kind/name, its one container ID_SIDE, applied as
 * MODIFIED (which adds it when new): its container's metadata into *m.
 * Nonzero when found. */
static int owned_pod(struct zs_k8s_pods *p, const char *uid, const char *kind, const char *name,
		     const char *labels, struct zs_k8s_meta *m)
{
	struct json_object *o =
		pod(uid, "pod-x", kind, name, labels,
		    "{\"name\":\"c\",\"containerID\":\"containerd://" ID_SIDE "\"}");

	zs_k8s_pods_apply(p, ZS_K8S_MODIFIED, o, NULL);
	json_object_put(o);
	return zs_k8s_pods_lookup(p, ID_SIDE, NULL, m);
}

static void owners_and_names(void)
{
	struct zs_k8s_pods *p = zs_k8s_pods_new(16);
	struct zs_k8s_meta m;
	struct json_object *o;
	const char *st = "{\"name\":\"c\",\"containerID\":\"containerd://" ID_APP "\"}";

	o = pod("u1", "db-0", "StatefulSet", "db", "", st);
	zs_k8s_pods_apply(p, ZS_K8S_ADDED, o, NULL);
	json_object_put(o);
	CHECK(zs_k8s_pods_lookup(p, ID_APP, NULL, &m), "sts");
	CHECK_STR(m.owner_kind, "statefulset");
	CHECK_STR(zs_k8s_service_name(&m), "db");

	/* MODIFIED replaces: same pod, other labels */
	o = pod("u1", "db-0", "StatefulSet", "db", "\"app.kubernetes.io/name\":\"postgres\"", st);
	zs_k8s_pods_apply(p, ZS_K8S_MODIFIED, o, NULL);
	json_object_put(o);
	CHECK(zs_k8s_pods_count(p) == 1, "replaced, not added: %u", zs_k8s_pods_count(p));
	CHECK(zs_k8s_pods_lookup(p, ID_APP, NULL, &m), "sts again");
	CHECK_STR(zs_k8s_service_name(&m), "postgres");

	/* A ReplicaSet whose name does not end in the template hash is its own owner. */
	o = pod("u2", "rs-abc", "ReplicaSet", "web-rs", "\"pod-template-hash\":\"zzz\"",
		"{\"name\":\"c\",\"containerID\":\"docker://" ID_SIDE "\"}");
	zs_k8s_pods_apply(p, ZS_K8S_ADDED, o, NULL);
	json_object_put(o);
	CHECK(zs_k8s_pods_lookup(p, ID_SIDE, NULL, &m), "rs");
	CHECK_STR(m.owner_kind, "replicaset");
	CHECK_STR(m.owner_name, "web-rs");
	CHECK_STR(m.replicaset_name, "web-rs");

	/* A bare pod: no owner, no label: the executable names it. */
	o = pod("u3", "bare", NULL, NULL, "",
		"{\"name\":\"c\",\"containerID\":\"cri-o://" ID_INIT "\"}");
	zs_k8s_pods_apply(p, ZS_K8S_ADDED, o, NULL);
	json_object_put(o);
	CHECK(zs_k8s_pods_lookup(p, ID_INIT, NULL, &m), "bare");
	CHECK(zs_k8s_service_name(&m) == NULL, "no k8s service name");

	/* Pending: no container id yet; its only container is named through the pod uid. */
	o = pod("u4", "pending", "DaemonSet", "agent", "", "{\"name\":\"c\"}");
	CHECK(zs_k8s_pods_apply(p, ZS_K8S_ADDED, o, NULL) == 1, "pod-level entry");
	json_object_put(o);
	CHECK(zs_k8s_pods_lookup(p, ID_NEW, "u4", &m), "pending by uid");
	CHECK_STR(m.owner_kind, "daemonset");
	CHECK_STR(m.container_name, "c");

	/* A CronJob's Job ("<cronjob>-<minutes since 1970>"): the CronJob names
	 * the service, the same for every run; a Job of its own names itself. */
	CHECK(owned_pod(p, "u5", "Job", "report-29417375", "", &m), "cronjob's pod");
	CHECK_STR(m.owner_kind, "cronjob");
	CHECK_STR(m.owner_name, "report");
	CHECK_STR(m.job_name, "report-29417375");
	CHECK_STR(zs_k8s_service_name(&m), "report");
	{
		static const char *const jobs[] = { "migrate",	 "migrate-2", "backup-1234567",
						    "-29417375", "29417375",  "a-b29417375" };
		size_t i;

		for (i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
			CHECK(owned_pod(p, "u5", "Job", jobs[i], "", &m), "job %s", jobs[i]);
			CHECK_STR(m.owner_kind, "job");
			CHECK_STR(m.owner_name, jobs[i]);
			CHECK_STR(m.job_name, jobs[i]);
		}
	}

	/* A full list that has only u1: the others are swept. */
	zs_k8s_pods_mark(p);
	o = pod("u1", "db-0", "StatefulSet", "db", "", st);
	zs_k8s_pods_apply(p, ZS_K8S_ADDED, o, NULL);
	json_object_put(o);
	zs_k8s_pods_sweep(p);
	CHECK(zs_k8s_pods_count(p) == 1, "after relist %u", zs_k8s_pods_count(p));
	CHECK(zs_k8s_pods_lookup(p, ID_APP, NULL, &m) && !zs_k8s_pods_lookup(p, ID_SIDE, NULL, &m),
	      "relist kept u1 only");
	zs_k8s_pods_free(p);
}

static void bad_objects_and_bound(const char *dir)
{
	struct zs_k8s_pods *p = zs_k8s_pods_new(2);
	struct json_object *o;
	uint64_t dropped = 0;

	o = json_tokener_parse("{\"kind\":\"Service\",\"metadata\":{\"uid\":\"x\"}}");
	CHECK(zs_k8s_pods_apply(p, ZS_K8S_ADDED, o, NULL) == -1, "not a pod");
	json_object_put(o);
	o = json_tokener_parse("[1,2]");
	CHECK(zs_k8s_pods_apply(p, ZS_K8S_ADDED, o, NULL) == -1, "array");
	json_object_put(o);
	o = json_tokener_parse("{\"metadata\":{\"name\":7,\"uid\":[]},\"status\":\"x\"}");
	CHECK(zs_k8s_pods_apply(p, ZS_K8S_ADDED, o, NULL) == -1, "no uid");
	json_object_put(o);
	CHECK(zs_k8s_pods_apply(p, ZS_K8S_ADDED, NULL, NULL) == -1, "NULL");
	/* Wrong types inside a pod are skipped, not trusted. */
	o = json_tokener_parse(
		"{\"metadata\":{\"uid\":\"u\",\"labels\":[],\"ownerReferences\":{}},"
		"\"spec\":{\"containers\":7},\"status\":{\"containerStatuses\":"
		"[1,{\"containerID\":5},{\"name\":{},\"containerID\":\"containerd://" ID_APP
		"\"}]}}");
	CHECK(zs_k8s_pods_apply(p, ZS_K8S_ADDED, o, NULL) == 1, "odd types");
	json_object_put(o);
	zs_k8s_pods_free(p);

	p = zs_k8s_pods_new(2);
	o = fixture(dir);
	CHECK(zs_k8s_pods_apply(p, ZS_K8S_ADDED, o, &dropped) == 2, "bounded");
	CHECK(dropped == 1 && zs_k8s_pods_count(p) == 2, "dropped %llu",
	      (unsigned long long)dropped);
	json_object_put(o);
	zs_k8s_pods_free(p);
}

static void watch_lines(void)
{
	struct zs_k8s_pods *p = zs_k8s_pods_new(16);
	char rv[32] = "100", line[1024];
	uint64_t dropped = 0;
	struct zs_k8s_meta m;

	snprintf(line, sizeof(line),
		 "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"uid\":\"w1\","
		 "\"name\":\"w\",\"resourceVersion\":\"101\"},\"status\":{\"containerStatuses\":"
		 "[{\"name\":\"c\",\"containerID\":\"containerd://%s\"}]}}}",
		 ID_APP);
	CHECK(zs_k8s_watch_line(p, line, rv, sizeof(rv), &dropped) == ZS_K8S_LINE_APPLIED, "added");
	CHECK_STR(rv, "101");
	CHECK(zs_k8s_pods_lookup(p, ID_APP, NULL, &m) && strcmp(m.pod_name, "w") == 0, "applied");
	CHECK(zs_k8s_watch_line(p,
				"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":"
				"{\"resourceVersion\":\"150\"}}}",
				rv, sizeof(rv), &dropped) == ZS_K8S_LINE_BOOKMARK,
	      "bookmark");
	CHECK_STR(rv, "150");
	CHECK(zs_k8s_watch_line(p,
				"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
				"\"metadata\":{\"resourceVersion\":\"9\"}}}",
				rv, sizeof(rv), &dropped) == ZS_K8S_LINE_GONE,
	      "410");
	CHECK_STR(rv, "150");
	CHECK(zs_k8s_watch_line(p, "{\"type\":\"ERROR\",\"object\":{\"code\":500}}", rv, sizeof(rv),
				&dropped) == ZS_K8S_LINE_ERROR,
	      "500");
	/* hostile or broken lines: nothing applied, the resume point kept */
	{
		static const char *const bad[] = {
			"",
			"not json",
			"[]",
			"{\"type\":null,\"object\":{}}",
			"{\"type\":\"ADDED\",\"object\":null}",
			"{\"type\":7,\"object\":{}}",
			"{\"type\":\"ADDED\"}",
			"{\"type\":\"FOO\",\"object\":{}}",
			"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{"
			"\"resourceVersion\":\"999\"}}}",
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			CHECK(zs_k8s_watch_line(p, bad[i], rv, sizeof(rv), &dropped) ==
				      ZS_K8S_LINE_INVALID,
			      "'%s' accepted", bad[i]);
		CHECK_STR(rv, "150");
	}
	snprintf(line, sizeof(line),
		 "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"uid\":\"w1\","
		 "\"resourceVersion\":\"160\"}}}");
	CHECK(zs_k8s_watch_line(p, line, rv, sizeof(rv), &dropped) == ZS_K8S_LINE_APPLIED,
	      "deleted");
	CHECK(!zs_k8s_pods_lookup(p, ID_APP, NULL, &m) && strcmp(rv, "160") == 0, "gone, rv %s",
	      rv);
	zs_k8s_pods_free(p);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/unit";

	container_ids();
	deployment_pod(dir);
	owners_and_names();
	bad_objects_and_bound(dir);
	watch_lines();
	return zs_test_done("k8s");
}
