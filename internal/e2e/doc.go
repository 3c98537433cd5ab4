// Package e2e holds end-to-end tests of trailwatch against real servers: an
// S3-compatible server (VersityGW) and an SQS/SNS emulator (fauxqs),
// started on 127.0.0.1 by internal/testsrv. They deliver logs the way AWS
// does and check that what is stored equals what was delivered, through
// crashes and injected S3 failures. Without the servers installed they
// skip, unless TRAILWATCH_REQUIRE_SERVERS=1 (CI) makes that a failure.
package e2e
