// Package approval handles requests to see more than policy grants by
// default — unmasking, exports, quota raises, break-glass access — and the
// time-boxed grants approvers give.
//
// Approver rules say who may approve which kind of request for which data;
// nobody approves their own request, and break-glass needs two distinct
// approvers and a stated reason. Every step (requested, approved, denied,
// granted, revoked, expired) is reported through an event callback so that
// it lands in the ledger. Grants are consulted by the policy engine
// (policy.Engine.Grants): an approval_required decision covered by an
// active grant becomes allow, naming the grant.
package approval
