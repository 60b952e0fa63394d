package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/custos-dev/custos/approval"
)

// approveClient talks to a running server's /api/v1/approvals. The server
// decides who the caller is from the token, so the CLI never claims an
// identity or a role.
type approveClient struct {
	server string
	token  string
	http   *http.Client
}

func (c *approveClient) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&c.server, "server", "http://127.0.0.1:8870", "Custos API base URL")
	cmd.PersistentFlags().StringVar(&c.token, "token", "", "API bearer token (default $CUSTOS_TOKEN)")
}

func (c *approveClient) do(e *env, method, path string, body any, out any) error {
	token := c.token
	if token == "" {
		token = os.Getenv("CUSTOS_TOKEN")
	}
	if token == "" {
		return &usageError{msg: "a token is required: --token or CUSTOS_TOKEN"}
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, strings.TrimRight(c.server, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.http
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var eb struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			return fmt.Errorf("%s: %s", resp.Status, eb.Error)
		}
		return errors.New(resp.Status)
	}
	return json.Unmarshal(data, out)
}

func newApproveCmd(e *env) *cobra.Command {
	c := &approveClient{}
	cmd := &cobra.Command{
		Use:   "approve",
		Short: "Request, list, approve, deny and revoke access approvals",
		Long: `Approvals let an employee see more than policy gives by default: unmasked
values, exports, a raised quota, or break-glass access in an emergency. An
approver rule decides who may approve; nobody approves their own request;
break-glass needs two approvers and a reason. Grants are time-boxed.

These commands talk to a running server (custos serve) with an API token;
the server knows who you are from the token.`,
	}
	c.register(cmd)
	cmd.AddCommand(newApproveListCmd(e, c), newApproveShowCmd(e, c), newApproveRequestCmd(e, c),
		newApproveActionCmd(e, c, "grant", "approve", "Approve a request (grants it once enough approvers agree)"),
		newApproveActionCmd(e, c, "deny", "deny", "Deny a pending request"),
		newApproveActionCmd(e, c, "revoke", "revoke", "Withdraw a request or end a grant early"))
	return cmd
}

func printApprovals(e *env, list []approval.Request) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tREQUESTER\tAPPROVALS\tSCOPE\tREASON")
	for _, r := range list {
		scope := strings.Trim(r.Scope.System+" "+r.Scope.Object+" "+strings.Join(r.Scope.Categories, ","), " ")
		if n := len(r.Scope.Subjects); n > 0 {
			scope += fmt.Sprintf(" (%d subjects)", n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", r.ID, r.Kind, r.Status, r.Requester, len(r.Approvals), r.Required, scope, r.Reason)
	}
	tw.Flush()
}

func newApproveListCmd(e *env, c *approveClient) *cobra.Command {
	var status string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the requests you filed or may approve",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Approvals []approval.Request `json:"approvals"`
			}
			path := "/api/v1/approvals"
			if status != "" {
				path += "?status=" + url.QueryEscape(status)
			}
			if err := c.do(e, http.MethodGet, path, nil, &out); err != nil {
				return err
			}
			printApprovals(e, out.Approvals)
			return nil
		},
	}
	cmd.Flags().StringVar(&status, "status", "pending", "pending, granted, denied, revoked, expired, or empty for all")
	return cmd
}

func newApproveShowCmd(e *env, c *approveClient) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one request as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r approval.Request
			if err := c.do(e, http.MethodGet, "/api/v1/approvals/"+url.PathEscape(args[0]), nil, &r); err != nil {
				return err
			}
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		},
	}
}

func newApproveRequestCmd(e *env, c *approveClient) *cobra.Command {
	var in approval.NewRequest
	var kind string
	cmd := &cobra.Command{
		Use:   "request --kind KIND --reason TEXT [--system S] [--object O] [--category C]...",
		Short: "File a request (unmask, export, quota_raise, break_glass)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Kind = approval.Kind(kind)
			var r approval.Request
			if err := c.do(e, http.MethodPost, "/api/v1/approvals", in, &r); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s %s: needs %d approval(s) under rule %s\n", r.ID, r.Status, r.Required, r.Rule)
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "unmask", "unmask, export, quota_raise or break_glass")
	cmd.Flags().StringVar(&in.Reason, "reason", "", "why (at least 10 characters; required)")
	cmd.Flags().StringVar(&in.Scope.System, "system", "", "system the grant covers (empty: all)")
	cmd.Flags().StringVar(&in.Scope.Object, "object", "", "table or route the grant covers (empty: all)")
	cmd.Flags().StringSliceVar(&in.Scope.Categories, "category", nil, "categories the grant covers (repeatable)")
	cmd.Flags().StringSliceVar(&in.Scope.Subjects, "subject", nil, "subject hashes the grant covers (repeatable)")
	cmd.Flags().StringVar(&in.Duration, "duration", "1h", "how long the grant should last (capped by the approver rule)")
	cmd.Flags().StringVar(&in.Purpose.Ticket, "ticket", "", "ticket or case number")
	return cmd
}

func newApproveActionCmd(e *env, c *approveClient, use, action, short string) *cobra.Command {
	var comment string
	cmd := &cobra.Command{
		Use:   use + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r approval.Request
			if err := c.do(e, http.MethodPost, "/api/v1/approvals/"+url.PathEscape(args[0])+"/"+action, map[string]string{"comment": comment}, &r); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s %s (%d/%d approvals)", r.ID, r.Status, len(r.Approvals), r.Required)
			if !r.GrantUntil.IsZero() && r.Status == approval.StatusGranted {
				fmt.Fprintf(e.stdout, ", until %s", r.GrantUntil.Format(time.RFC3339))
			}
			fmt.Fprintln(e.stdout)
			return nil
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "comment recorded with the step (required for break-glass approvals)")
	return cmd
}
