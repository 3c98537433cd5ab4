package detect

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// ct is a CloudTrail event under construction.
type ct map[string]any

// stratusUser is the principal Stratus Red Team detonates as.
var stratusUser = map[string]any{"type": "IAMUser", "principalId": "AIDAEXAMPLESTRATUS", "arn": "arn:aws:iam::111122223333:user/stratus",
	"accountId": "111122223333", "accessKeyId": "AKIAEXAMPLESTRATUS", "userName": "stratus"}

// events renders events one second apart with Stratus defaults.
func events(evs ...ct) []string {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var out []string
	for i, e := range evs {
		m := map[string]any{"eventVersion": "1.09", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.66",
			"userAgent": "stratus-red-team_3d3f", "recipientAccountId": "111122223333", "userIdentity": stratusUser,
			"eventType": "AwsApiCall", "eventID": fmt.Sprintf("00000000-0000-4000-9000-%012d", i)}
		for k, v := range e {
			m[k] = v
		}
		if _, ok := m["eventTime"]; !ok {
			m["eventTime"] = at.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		}
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	return out
}

func times(n int, e ct) []ct {
	out := make([]ct, n)
	for i := range out {
		c := ct{}
		for k, v := range e {
			c[k] = v
		}
		out[i] = c
	}
	return out
}

func cat(parts ...[]ct) []ct { return slices.Concat(parts...) }

// stratusTechniques maps Stratus Red Team's AWS techniques to the CloudTrail
// events their detonation leaves (as documented by Stratus Red Team) and the
// built-in rules that must raise an alert on them.
var stratusTechniques = []struct {
	id     string
	events []ct
	rules  []string // at least one of them fires
}{
	{"aws.credential-access.ec2-get-password-data",
		times(30, ct{"eventSource": "ec2.amazonaws.com", "eventName": "GetPasswordData", "errorCode": "Client.UnauthorizedOperation", "requestParameters": ct{"instanceId": "i-0123456789abcdef0"}}),
		[]string{"tw_ec2_get_password_data"}},
	{"aws.credential-access.ec2-steal-instance-credentials",
		[]ct{{"eventSource": "ssm.amazonaws.com", "eventName": "SendCommand", "requestParameters": ct{"instanceIds": []string{"i-0123"}, "documentName": "AWS-RunShellScript"}}},
		[]string{"tw_ssm_send_command_shell"}},
	{"aws.credential-access.secretsmanager-batch-retrieve-secrets",
		times(2, ct{"eventSource": "secretsmanager.amazonaws.com", "eventName": "BatchGetSecretValue", "requestParameters": ct{"filters": []ct{{"key": "tag-key", "values": []string{"StratusRedTeam"}}}}}),
		[]string{"tw_secretsmanager_batch_retrieval"}},
	{"aws.credential-access.secretsmanager-retrieve-secrets",
		cat([]ct{{"eventSource": "secretsmanager.amazonaws.com", "eventName": "ListSecrets"}},
			times(20, ct{"eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue", "requestParameters": ct{"secretId": "stratus-red-team-retrieve-secret-1"}})),
		[]string{"tw_secretsmanager_retrieval_burst"}},
	{"aws.credential-access.ssm-retrieve-securestring-parameters",
		cat([]ct{{"eventSource": "ssm.amazonaws.com", "eventName": "DescribeParameters", "readOnly": true}},
			[]ct{{"eventSource": "ssm.amazonaws.com", "eventName": "GetParameters", "requestParameters": ct{"withDecryption": true, "names": names("/credentials/stratus-red-team/credentials-", 0, 10)}}},
			[]ct{{"eventSource": "ssm.amazonaws.com", "eventName": "GetParameters", "requestParameters": ct{"withDecryption": true, "names": names("/credentials/stratus-red-team/credentials-", 10, 20)}}},
			[]ct{{"eventSource": "ssm.amazonaws.com", "eventName": "GetParameters", "requestParameters": ct{"withDecryption": true, "names": names("/credentials/stratus-red-team/credentials-", 20, 30)}}}),
		[]string{"tw_ssm_parameter_harvest"}},
	{"aws.defense-evasion.bedrock-guardrail-delete",
		[]ct{{"eventSource": "bedrock.amazonaws.com", "eventName": "DeleteGuardrail", "requestParameters": ct{"guardrailIdentifier": "stratus"}}},
		[]string{"tw_bedrock_guardrail_deleted"}},
	{"aws.defense-evasion.bedrock-model-invocation-logging-delete",
		[]ct{{"eventSource": "bedrock.amazonaws.com", "eventName": "DeleteModelInvocationLoggingConfiguration"}},
		[]string{"tw_bedrock_invocation_logging_deleted"}},
	{"aws.defense-evasion.cloudtrail-delete",
		[]ct{{"eventSource": "cloudtrail.amazonaws.com", "eventName": "DeleteTrail", "requestParameters": ct{"name": "stratus-red-team-trail"}}},
		[]string{"tw_cloudtrail_logging_stopped", "tw_cis_4_5_cloudtrail_changes"}},
	{"aws.defense-evasion.cloudtrail-event-selectors",
		[]ct{{"eventSource": "cloudtrail.amazonaws.com", "eventName": "PutEventSelectors", "requestParameters": ct{"trailName": "t",
			"eventSelectors": []ct{{"readWriteType": "ReadOnly", "includeManagementEvents": false, "dataResources": []ct{}}}}}},
		[]string{"tw_cloudtrail_management_events_excluded"}},
	{"aws.defense-evasion.cloudtrail-lifecycle-rule",
		[]ct{{"eventSource": "s3.amazonaws.com", "eventName": "PutBucketLifecycle", "requestParameters": ct{"bucketName": "stratus-trail-bucket",
			"LifecycleConfiguration": ct{"Rule": ct{"ID": "nuke-cloudtrail-logs-after-1-day", "Status": "Enabled", "Expiration": ct{"Days": 1}}}}}},
		[]string{"tw_s3_short_lifecycle_expiration"}},
	{"aws.defense-evasion.cloudtrail-stop",
		[]ct{{"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "requestParameters": ct{"name": "stratus-red-team-trail"}}},
		[]string{"tw_cloudtrail_logging_stopped"}},
	{"aws.defense-evasion.dns-delete-logs",
		[]ct{{"eventSource": "route53resolver.amazonaws.com", "eventName": "DeleteResolverQueryLogConfig", "requestParameters": ct{"resolverQueryLogConfigId": "rqlc-1"}}},
		[]string{"tw_route53_resolver_query_logging_removed"}},
	{"aws.defense-evasion.organizations-leave",
		[]ct{{"eventSource": "organizations.amazonaws.com", "eventName": "LeaveOrganization", "errorCode": "AccessDeniedException"}},
		[]string{"tw_organizations_leave"}},
	{"aws.defense-evasion.vpc-remove-flow-logs",
		[]ct{{"eventSource": "ec2.amazonaws.com", "eventName": "DeleteFlowLogs", "requestParameters": ct{"DeleteFlowLogsRequest": ct{"FlowLogId": ct{"content": "fl-1"}}}}},
		[]string{"tw_vpc_flow_logs_deleted"}},
	{"aws.discovery.bedrock-enumerate-models-multiple-regions",
		[]ct{{"eventSource": "bedrock.amazonaws.com", "eventName": "ListFoundationModels", "awsRegion": "us-east-1"},
			{"eventSource": "bedrock.amazonaws.com", "eventName": "ListFoundationModels", "awsRegion": "us-west-2"},
			{"eventSource": "bedrock.amazonaws.com", "eventName": "ListFoundationModels", "awsRegion": "eu-west-3"},
			{"eventSource": "bedrock.amazonaws.com", "eventName": "ListFoundationModels", "awsRegion": "ap-northeast-1"}},
		[]string{"tw_bedrock_model_enumeration"}},
	{"aws.discovery.ec2-download-user-data",
		times(15, ct{"eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstanceAttribute", "requestParameters": ct{"instanceId": "i-1", "attribute": "userData"}}),
		[]string{"tw_ec2_user_data_retrieved"}},
	{"aws.discovery.ec2-enumerate-from-instance",
		discovery(),
		[]string{"tw_discovery_burst"}},
	{"aws.discovery.ses-enumerate",
		[]ct{{"eventSource": "ses.amazonaws.com", "eventName": "GetAccountSendingEnabled"}, {"eventSource": "ses.amazonaws.com", "eventName": "ListIdentities"},
			{"eventSource": "ses.amazonaws.com", "eventName": "GetSendQuota"}, {"eventSource": "ses.amazonaws.com", "eventName": "GetIdentityVerificationAttributes"}},
		[]string{"tw_ses_enumeration"}},
	{"aws.execution.ec2-launch-unusual-instances",
		times(3, ct{"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "errorCode": "Client.UnauthorizedOperation",
			"requestParameters": ct{"instanceType": "p2.xlarge", "instancesSet": ct{"items": []ct{{"imageId": "ami-1", "minCount": 10, "maxCount": 10}}}}}),
		[]string{"tw_ec2_unusual_instance_type"}},
	{"aws.execution.ec2-user-data",
		[]ct{{"eventSource": "ec2.amazonaws.com", "eventName": "StopInstances"},
			{"eventSource": "ec2.amazonaws.com", "eventName": "ModifyInstanceAttribute", "requestParameters": ct{"instanceId": "i-1", "userData": "<sensitiveDataRemoved>"}},
			{"eventSource": "ec2.amazonaws.com", "eventName": "StartInstances"}},
		[]string{"tw_ec2_user_data_modified"}},
	{"aws.execution.sagemaker-update-lifecycle-config",
		[]ct{{"eventSource": "sagemaker.amazonaws.com", "eventName": "CreateNotebookInstanceLifecycleConfig", "requestParameters": ct{"notebookInstanceLifecycleConfigName": "x"}},
			{"eventSource": "sagemaker.amazonaws.com", "eventName": "UpdateNotebookInstance", "requestParameters": ct{"notebookInstanceName": "nb", "lifecycleConfigName": "x"}}},
		[]string{"tw_sagemaker_lifecycle_config"}},
	{"aws.execution.ssm-send-command",
		[]ct{{"eventSource": "ssm.amazonaws.com", "eventName": "SendCommand", "requestParameters": ct{"instanceIds": []string{"i-1", "i-2", "i-3"}, "documentName": "AWS-RunShellScript"}}},
		[]string{"tw_ssm_send_command_shell"}},
	{"aws.execution.ssm-start-session",
		[]ct{{"eventSource": "ssm.amazonaws.com", "eventName": "StartSession", "requestParameters": ct{"target": "i-1"}},
			{"eventSource": "ssm.amazonaws.com", "eventName": "StartSession", "requestParameters": ct{"target": "i-2"}},
			{"eventSource": "ssm.amazonaws.com", "eventName": "StartSession", "requestParameters": ct{"target": "i-3"}}},
		[]string{"tw_ssm_session_spread"}},
	{"aws.exfiltration.ami-make-public",
		[]ct{{"eventSource": "ec2.amazonaws.com", "eventName": "ModifyImageAttribute", "requestParameters": ct{"imageId": "ami-1",
			"launchPermission": ct{"add": ct{"items": []ct{{"group": "all"}}}}, "attributeType": "launchPermission"}}},
		[]string{"tw_ami_shared"}},
	{"aws.exfiltration.ec2-security-group-open-port-22-ingress",
		[]ct{{"eventSource": "ec2.amazonaws.com", "eventName": "AuthorizeSecurityGroupIngress", "requestParameters": ct{"groupId": "sg-1",
			"ipPermissions": ct{"items": []ct{{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": ct{"items": []ct{{"cidrIp": "0.0.0.0/0"}}}}}}}}},
		[]string{"tw_security_group_open_to_internet"}},
	{"aws.exfiltration.ec2-share-ami",
		[]ct{{"eventSource": "ec2.amazonaws.com", "eventName": "ModifyImageAttribute", "requestParameters": ct{"imageId": "ami-1",
			"launchPermission": ct{"add": ct{"items": []ct{{"userId": "012345678912"}}}}, "attributeType": "launchPermission"}}},
		[]string{"tw_ami_shared"}},
	{"aws.exfiltration.ec2-share-ebs-snapshot",
		[]ct{{"eventSource": "ec2.amazonaws.com", "eventName": "ModifySnapshotAttribute", "requestParameters": ct{"snapshotId": "snap-1",
			"attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": ct{"add": ct{"items": []ct{{"userId": "012345678912"}}}}}}},
		[]string{"tw_ebs_snapshot_shared"}},
	{"aws.exfiltration.rds-share-snapshot",
		[]ct{{"eventSource": "rds.amazonaws.com", "eventName": "ModifyDBSnapshotAttribute", "requestParameters": ct{"dBSnapshotIdentifier": "s",
			"attributeName": "restore", "valuesToAdd": []string{"012345678912"}}}},
		[]string{"tw_rds_snapshot_shared"}},
	{"aws.exfiltration.s3-backdoor-bucket-policy",
		[]ct{{"eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy", "requestParameters": ct{"bucketName": "b", "bucketPolicy": ct{
			"Statement": []ct{{"Effect": "Allow", "Principal": ct{"AWS": "arn:aws:iam::193672423079:root"}, "Action": []string{"s3:GetObject", "s3:ListBucket"}, "Resource": "arn:aws:s3:::b/*"}}}}}},
		[]string{"tw_cis_4_8_s3_bucket_policy_changes"}},
	{"aws.collection.ec2-console-screenshots",
		[]ct{{"eventSource": "ec2.amazonaws.com", "eventName": "GetConsoleScreenshot", "requestParameters": ct{"instanceId": "i-0123456789abcdef0"}}},
		[]string{"tw_ec2_console_screenshot"}},
	{"aws.impact.ec2-deregister-ami",
		[]ct{{"eventSource": "ec2.amazonaws.com", "eventName": "DeregisterImage", "requestParameters": ct{"imageId": "ami-0123456789abcdef0"}}},
		[]string{"tw_ec2_ami_deregistered"}},
	{"aws.impact.bedrock-invoke-model",
		[]ct{{"eventSource": "bedrock.amazonaws.com", "eventName": "InvokeModel", "requestParameters": ct{"modelId": "anthropic.claude-3-haiku-20240307-v1:0"}}},
		[]string{"tw_bedrock_model_invoked"}},
	{"aws.impact.s3-ransomware-batch-deletion",
		[]ct{{"eventSource": "s3.amazonaws.com", "eventName": "ListObjectVersions", "requestParameters": ct{"bucketName": "victim", "versions": ""}},
			{"eventSource": "s3.amazonaws.com", "eventName": "DeleteObjects", "requestParameters": ct{"bucketName": "victim", "delete": ""}},
			{"eventSource": "s3.amazonaws.com", "eventName": "PutObject", "requestParameters": ct{"bucketName": "victim", "key": "FILES-DELETED.txt"}}},
		[]string{"tw_s3_ransomware_sequence"}},
	{"aws.impact.s3-ransomware-client-side-encryption",
		cat([]ct{{"eventSource": "s3.amazonaws.com", "eventName": "ListObjects", "requestParameters": ct{"bucketName": "victim"}}},
			times(5, ct{"eventSource": "s3.amazonaws.com", "eventName": "CopyObject", "requestParameters": ct{"bucketName": "victim", "key": "f.txt",
				"x-amz-server-side-encryption-customer-algorithm": "AES256", "x-amz-copy-source": "victim/f.txt"}})),
		[]string{"tw_s3_sse_c_write", "tw_s3_sse_c_encryption"}},
	{"aws.impact.s3-ransomware-individual-deletion",
		cat([]ct{{"eventSource": "s3.amazonaws.com", "eventName": "ListObjectVersions", "requestParameters": ct{"bucketName": "victim", "versions": ""}}},
			times(60, ct{"eventSource": "s3.amazonaws.com", "eventName": "DeleteObject", "requestParameters": ct{"bucketName": "victim", "key": "f.txt", "versionId": "v"}}),
			[]ct{{"eventSource": "s3.amazonaws.com", "eventName": "PutObject", "requestParameters": ct{"bucketName": "victim", "key": "FILES-DELETED.txt"}}}),
		[]string{"tw_s3_mass_deletion", "tw_s3_ransomware_sequence"}},
	{"aws.initial-access.console-login-without-mfa",
		[]ct{{"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "eventType": "AwsConsoleSignIn",
			"responseElements": ct{"ConsoleLogin": "Success"}, "additionalEventData": ct{"MFAUsed": "No", "MobileVersion": "No"}}},
		[]string{"tw_cis_4_2_console_login_without_mfa"}},
	{"aws.lateral-movement.ec2-instance-connect",
		times(3, ct{"eventSource": "ec2-instance-connect.amazonaws.com", "eventName": "SendSSHPublicKey", "requestParameters": ct{"instanceId": "i-1", "instanceOSUser": "ec2-user"}}),
		[]string{"tw_ec2_instance_connect_key_pushed"}},
	{"aws.lateral-movement.ec2-serial-console-send-ssh-public-key",
		[]ct{{"eventSource": "ec2.amazonaws.com", "eventName": "EnableSerialConsoleAccess"},
			{"eventSource": "ec2-instance-connect.amazonaws.com", "eventName": "SendSerialConsoleSSHPublicKey", "requestParameters": ct{"instanceId": "i-1"}}},
		[]string{"tw_ec2_instance_connect_key_pushed"}},
	{"aws.persistence.iam-backdoor-role",
		[]ct{{"eventSource": "iam.amazonaws.com", "eventName": "UpdateAssumeRolePolicy", "requestParameters": ct{"roleName": "r",
			"policyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::193672423079:root"},"Action":"sts:AssumeRole"}]}`}}},
		[]string{"tw_iam_role_trust_policy_modified"}},
	{"aws.persistence.iam-backdoor-user",
		[]ct{{"eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "requestParameters": ct{"userName": "stratus-red-team-backdoor-u"}}},
		[]string{"tw_iam_access_key_for_other_user"}},
	{"aws.persistence.iam-create-admin-user",
		[]ct{{"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "requestParameters": ct{"userName": "malicious-iam-user"}},
			{"eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy", "requestParameters": ct{"userName": "malicious-iam-user", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}},
			{"eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "requestParameters": ct{"userName": "malicious-iam-user"}}},
		[]string{"tw_iam_admin_policy_attached", "tw_iam_access_key_for_other_user"}},
	{"aws.persistence.iam-create-backdoor-role",
		[]ct{{"eventSource": "iam.amazonaws.com", "eventName": "CreateRole", "requestParameters": ct{"roleName": "stratus-red-team-malicious-iam-role",
			"assumeRolePolicyDocument": `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::193672423079:root"},"Action":"sts:AssumeRole"}]}`}},
			{"eventSource": "iam.amazonaws.com", "eventName": "AttachRolePolicy", "requestParameters": ct{"roleName": "stratus-red-team-malicious-iam-role", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}}},
		[]string{"tw_iam_admin_policy_attached"}},
	{"aws.persistence.iam-create-user-login-profile",
		[]ct{{"eventSource": "iam.amazonaws.com", "eventName": "CreateLoginProfile", "requestParameters": ct{"userName": "stratus-red-team-login-profile-user", "passwordResetRequired": false}}},
		[]string{"tw_iam_login_profile_for_other_user"}},
	{"aws.persistence.lambda-backdoor-function",
		[]ct{{"eventSource": "lambda.amazonaws.com", "eventName": "AddPermission20150331v2", "requestParameters": ct{"functionName": "f", "statementId": "backdoor",
			"action": "lambda:InvokeFunction", "principal": "*"}}},
		[]string{"tw_lambda_public_permission"}},
	{"aws.persistence.lambda-layer-extension",
		[]ct{{"eventSource": "lambda.amazonaws.com", "eventName": "UpdateFunctionConfiguration20150331v2", "requestParameters": ct{"functionName": "f",
			"layers": []string{"arn:aws:lambda:us-east-1:701826553185:layer:stratus-layer:1"}}}},
		[]string{"tw_lambda_foreign_layer"}},
	{"aws.persistence.lambda-overwrite-code",
		[]ct{{"eventSource": "lambda.amazonaws.com", "eventName": "UpdateFunctionCode20150331v2", "requestParameters": ct{"functionName": "f", "publish": false}}},
		[]string{"tw_lambda_code_updated_directly"}},
	{"aws.persistence.rolesanywhere-create-trust-anchor",
		[]ct{{"eventSource": "rolesanywhere.amazonaws.com", "eventName": "CreateTrustAnchor", "requestParameters": ct{"name": "malicious-trust-anchor", "enabled": true}},
			{"eventSource": "rolesanywhere.amazonaws.com", "eventName": "CreateProfile", "requestParameters": ct{"name": "p"}}},
		[]string{"tw_rolesanywhere_trust_anchor_created"}},
	{"aws.persistence.sts-federation-token",
		[]ct{{"eventSource": "sts.amazonaws.com", "eventName": "GetFederationToken", "requestParameters": ct{"name": "stratus_red_team"}}},
		[]string{"tw_sts_get_federation_token"}},
	{"aws.privilege-escalation.iam-update-user-login-profile",
		[]ct{{"eventSource": "iam.amazonaws.com", "eventName": "UpdateLoginProfile", "requestParameters": ct{"userName": "stratus-red-team-update-lp-user"}}},
		[]string{"tw_iam_login_profile_for_other_user"}},
}

// stratusUncovered lists Stratus Red Team AWS techniques the table above
// does not cover, and why.
var stratusUncovered = map[string]string{
	"aws.persistence.cognito-refresh-token-reuse":     "not modelled: its events belong to Cognito user pools, not to the account's IAM principals",
	"aws.lateral-movement.ec2-serial-console-connect": "partly: EnableSerialConsoleAccess is reported by tw_ec2_instance_connect_key_pushed",
}

func names(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

// discovery is the enumeration Stratus runs from an instance with its role.
func discovery() []ct {
	role := map[string]any{"type": "AssumedRole", "principalId": "AROAEXAMPLE:i-0123456789abcdef0",
		"arn": "arn:aws:sts::111122223333:assumed-role/stratus-ec2-role/i-0123456789abcdef0", "accountId": "111122223333",
		"sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role", "arn": "arn:aws:iam::111122223333:role/stratus-ec2-role", "userName": "stratus-ec2-role"},
			"ec2RoleDelivery": "2.0"}}
	var out []ct
	for _, n := range []string{"GetCallerIdentity", "ListBuckets", "DescribeInstances", "DescribeSecurityGroups", "DescribeVpcs", "DescribeSubnets",
		"ListUsers", "ListRoles", "ListPolicies", "GetAccountAuthorizationDetails", "ListSecrets", "DescribeParameters", "ListKeys", "ListFunctions20150331",
		"DescribeDBInstances", "ListTables", "DescribeSnapshots", "DescribeVolumes", "ListClusters", "DescribeRegions", "GetAccountSummary", "ListGroups"} {
		out = append(out, ct{"eventName": n, "userIdentity": role, "sourceIPAddress": "54.1.2.3", "userAgent": "aws-cli/2.15.0"})
	}
	return out
}

// TestStratusTechniques checks that every Stratus Red Team AWS technique
// leaves at least one alert of the built-in pack, and prints the mapping.
func TestStratusTechniques(t *testing.T) {
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	covered := 0
	var table []string
	for _, tc := range stratusTechniques {
		t.Run(tc.id, func(t *testing.T) {
			fired := map[string]bool{}
			eng, err := NewEngine(rules, Options{MinLevel: LevelLow, OnFinding: func(f Finding) {
				for _, r := range rules {
					if r.Key() == f.RuleID {
						fired[r.Name] = true
					}
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			if err := feed(eng, Test{Events: events(tc.events...)}); err != nil {
				t.Fatal(err)
			}
			eng.Flush()
			var got []string
			for n := range fired {
				got = append(got, n)
			}
			sort.Strings(got)
			hit := false
			for _, want := range tc.rules {
				hit = hit || fired[want]
			}
			if !hit {
				t.Errorf("none of %v fired (fired: %v)", tc.rules, got)
				return
			}
			covered++
			table = append(table, fmt.Sprintf("%-62s %s", tc.id, strings.Join(got, ", ")))
		})
	}
	t.Logf("%d Stratus Red Team techniques covered; %d not covered: %v", covered, len(stratusUncovered), stratusUncovered)
	if testing.Verbose() {
		for _, l := range table {
			t.Log(l)
		}
	}
}
