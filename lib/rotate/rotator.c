/*
 * The rotators of this build, and helpers they share.
 */
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "rotate/rotator.h"
#include "util/error.h"

static const struct {
	const char *name;
	const cspf_rotator *rotator;
} rotators[] = {
	{ "generated", &cspf_rotator_generated },
	{ "postgresql", &cspf_rotator_postgresql },
	{ "postgres-password", &cspf_rotator_postgresql },
	{ "exec", &cspf_rotator_exec },
	{ "azure-app-secret", &cspf_rotator_azure_app },
	{ "aws-iam-access-key", &cspf_rotator_aws_iam },
	{ "aws-iam-user", &cspf_rotator_aws_iam },
	{ NULL, NULL },
};

const cspf_rotator *cspf_rotator_find(const char *name)
{
	size_t i;

	for (i = 0; name && rotators[i].name; i++)
		if (strcmp(rotators[i].name, name) == 0)
			return rotators[i].rotator;
	return NULL;
}
