// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Container ids and pod uids from /proc/PID/cgroup in each runtime's format. */
#include "container.h"
#include "zs_test.h"

#define ID "3f1c9a0e6b5d4c2a8e7f90123456789abcdef0123456789abcdef0123456789a"
#define POD "8f2c1d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f"
#define POD_ "8f2c1d3e_4b5a_4c6d_9e8f_0a1b2c3d4e5f"

static void is(const char *text, const char *id, const char *pod, const char *runtime)
{
	struct zs_container c;
	int found = zs_container_parse(text, strlen(text), &c);

	CHECK(found == (id[0] != 0), "found %d for %s", found, text);
	CHECK(strcmp(c.id, id) == 0, "id '%s' in %s", c.id, text);
	CHECK(strcmp(c.pod_uid, pod) == 0, "pod '%s' in %s", c.pod_uid, text);
	CHECK(strcmp(c.runtime, runtime) == 0, "runtime '%s' in %s", c.runtime, text);
}

int main(void)
{
	/* docker, cgroup v1 (cgroupfs driver) */
	is("12:memory:/docker/" ID "\n11:cpu:/docker/" ID "\n0::/\n", ID, "", "docker");
	/* docker, cgroup v2 (systemd driver) */
	is("0::/system.slice/docker-" ID ".scope\n", ID, "", "docker");
	/* containerd under Kubernetes, systemd driver */
	is("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" POD_
	   ".slice/cri-containerd-" ID ".scope\n",
	   ID, POD, "containerd");
	/* containerd under Kubernetes, cgroupfs driver, v1 */
	is("4:memory:/kubepods/besteffort/pod" POD "/" ID "\n", ID, POD, "containerd");
	/* CRI-O */
	is("0::/kubepods.slice/kubepods-pod" POD_ ".slice/crio-" ID ".scope\n", ID, POD, "cri-o");
	/* podman (rootful, systemd); conmon is not the container */
	is("0::/machine.slice/libpod-" ID ".scope/container\n", ID, "", "podman");
	is("0::/machine.slice/libpod-conmon-" ID ".scope\n", "", "", "");
	/* podman (rootful, cgroupfs manager, hybrid hierarchy), as seen on the test machine */
	is("10:hugetlb:/libpod_parent/libpod-" ID "\n9:name=systemd:/libpod_parent/libpod-" ID
	   "\n0::/libpod_parent/libpod-" ID "\n",
	   ID, "", "podman");
	/* hybrid hierarchy: the id on a later line */
	is("9:name=systemd:/\n4:memory:/user.slice\n0::/system.slice/docker-" ID ".scope\n", ID, "",
	   "docker");
	/* not containers: the host, a 32-hex sandbox group, uppercase, short, garbage */
	is("0::/\n", "", "", "");
	is("4:memory:/process_api/5e8613a3aa1a2c765ce34e0ebfb01d7e\n", "", "", "");
	is("0::/docker/3F1C9A0E6B5D4C2A8E7F90123456789ABCDEF0123456789ABCDEF0123456789A\n", "", "",
	   "");
	is("0::/system.slice/docker-abc.scope\n", "", "", "");
	is("garbage without colons " ID "\n", "", "", "");
	is("", "", "", "");
	return zs_test_done("container");
}
