/*
 * Snapshots from files a team exports when cspf has no API access: an IAM
 * credential report and get-account-authorization-details for AWS, the
 * output of az graph query for Azure.  The same checks run on them; what
 * the files do not say (access key ids, buckets, trails) is absent, and
 * drift then has nothing to say about it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cspf/time.h"
#include "inventory_private.h"
#include "util/error.h"

int inv_aws_apply_report(cJSON *users, cJSON *root, char *csv, int add);
void inv_sort_by_name(cJSON *array);

int cspf_inventory_aws_offline(FILE *out, const cspf_registry *reg,
	const char *account_id, const char *report, size_t report_len,
	const cJSON *details, int64_t now)
{
	const cspf_entity *e = cspf_registry_find_account(reg, account_id);
	cJSON *accounts = cJSON_CreateArray(), *a = cJSON_CreateObject();
	cJSON *users = cJSON_CreateArray(), *roles = NULL, *root;
	const cJSON *x;
	char *csv = NULL;

	if (!accounts || !a || !users ||
	    !cJSON_AddItemToArray(accounts, a)) {
		cJSON_Delete(accounts);
		cJSON_Delete(a);
		cJSON_Delete(users);
		return cspf_error_set_oom();
	}
	cJSON_AddStringToObject(a, "provider", "aws");
	cJSON_AddStringToObject(a, "id", account_id);
	if (e)
		cJSON_AddStringToObject(a, "registry_id", e->id);
	cJSON_AddStringToObject(a, "source", details ?
		"authorization-details" : "credential-report");
	cJSON_AddStringToObject(a, "status", "ok");
	root = cJSON_AddObjectToObject(a, "root");
	/* Users and roles from the authorization details, if given. */
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(details,
				      "UserDetailList")) {
		cJSON *u = cJSON_CreateObject();
		if (!u || !jstr(x, "UserName") ||
		    !cJSON_AddItemToArray(users, u)) {
			cJSON_Delete(u);
			continue;
		}
		cJSON_AddStringToObject(u, "name", jstr(x, "UserName"));
		if (jstr(x, "Arn"))
			cJSON_AddStringToObject(u, "arn", jstr(x, "Arn"));
		inv_add_time_str(u, "created", jstr(x, "CreateDate"));
		cJSON_AddArrayToObject(u, "access_keys");
	}
	if (details) {
		roles = cJSON_CreateArray();
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(details,
					      "RoleDetailList")) {
			cJSON *r = cJSON_CreateObject();
			const cJSON *used = cJSON_GetObjectItemCaseSensitive(x,
				"RoleLastUsed");
			if (!r || !jstr(x, "RoleName") || !roles ||
			    !cJSON_AddItemToArray(roles, r)) {
				cJSON_Delete(r);
				continue;
			}
			cJSON_AddStringToObject(r, "name", jstr(x, "RoleName"));
			if (jstr(x, "Arn"))
				cJSON_AddStringToObject(r, "arn",
					jstr(x, "Arn"));
			if (jstr(x, "Path"))
				cJSON_AddStringToObject(r, "path",
					jstr(x, "Path"));
			inv_add_time_str(r, "created", jstr(x, "CreateDate"));
			inv_add_time_str(r, "last_used",
				jstr(used, "LastUsedDate"));
			{
				const cJSON *pol = cJSON_GetObjectItemCaseSensitive(
					x, "AssumeRolePolicyDocument");

				inv_add_trusted(r, cJSON_IsObject(pol) ? pol :
					NULL, cJSON_GetStringValue(pol));
			}
		}
	}
	if (report) {
		csv = malloc(report_len + 1);
		if (!csv) {
			cJSON_Delete(accounts);
			cJSON_Delete(users);
			cJSON_Delete(roles);
			return cspf_error_set_oom();
		}
		memcpy(csv, report, report_len);
		csv[report_len] = '\0';
		if (inv_aws_apply_report(users, root, csv, 1) < 0) {
			free(csv);
			cJSON_Delete(accounts);
			cJSON_Delete(users);
			cJSON_Delete(roles);
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID,
				"the credential report is not the CSV IAM "
				"writes (its first line names the columns: "
				"user,arn,user_creation_time,...): decode the "
				"Content of get-credential-report with "
				"base64 -d");
		}
		free(csv);
	}
	inv_sort_by_name(users);
	cJSON_AddItemToObject(a, "users", users);
	if (roles) {
		inv_sort_by_name(roles);
		cJSON_AddItemToObject(a, "roles", roles);
	}
	return inv_write_snapshot(out, accounts, NULL, now);
}

int cspf_inventory_azure_offline(FILE *out, const cspf_registry *reg,
	const cJSON *graph, int64_t now)
{
	const cJSON *rows = cJSON_IsArray(graph) ? graph :
		cJSON_GetObjectItemCaseSensitive(graph, "data"), *row;
	cJSON *accounts = cJSON_CreateArray();

	if (!cJSON_IsArray(rows)) {
		cJSON_Delete(accounts);
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"not the output of az graph query: no \"data\" "
			"array of resources");
	}
	cJSON_ArrayForEach(row, rows) {
		const char *sub = jstr(row, "subscriptionId");
		const char *id = jstr(row, "id");
		cJSON *a = NULL, *x, *res, *o;
		char subbuf[64];

		if (!id)
			continue;
		if (!sub && sscanf(id, "/subscriptions/%63[^/]", subbuf) == 1)
			sub = subbuf;
		if (!sub)
			continue;
		cJSON_ArrayForEach(x, accounts)
			if (!strcasecmp(jstr(x, "id"), sub))
				a = x;
		if (!a) {
			const cspf_entity *e =
				cspf_registry_find_account(reg, sub);
			a = cJSON_CreateObject();
			if (!a || !cJSON_AddItemToArray(accounts, a)) {
				cJSON_Delete(a);
				continue;
			}
			cJSON_AddStringToObject(a, "provider", "azure");
			cJSON_AddStringToObject(a, "id", sub);
			if (e)
				cJSON_AddStringToObject(a, "registry_id",
					e->id);
			cJSON_AddStringToObject(a, "source", "az-graph");
			cJSON_AddStringToObject(a, "status", "ok");
			cJSON_AddArrayToObject(a, "resources");
		}
		res = cJSON_GetObjectItemCaseSensitive(a, "resources");
		o = inv_azure_resource(row);
		if (o && !cJSON_AddItemToArray(res, o))
			cJSON_Delete(o);
	}
	return inv_write_snapshot(out, accounts, NULL, now);
}
