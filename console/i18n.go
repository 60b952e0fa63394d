package console

import (
	"fmt"
	"html/template"
	"net/http"
	"time"

	"golang.org/x/text/language"
)

// Languages the console speaks; the first is the fallback.
var languages = []language.Tag{language.English, language.SimplifiedChinese}

var matcher = language.NewMatcher(languages)

// lang picks the language: the cookie set by the switcher, else the
// browser's Accept-Language.
func (c *Console) lang(r *http.Request) string {
	if ck, err := r.Cookie(langCookie); err == nil && (ck.Value == "en" || ck.Value == "zh-CN") {
		return ck.Value
	}
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return "en"
	}
	_, i, _ := matcher.Match(tags...)
	if i == 1 {
		return "zh-CN"
	}
	return "en"
}

// msg translates key; an unknown key (a value the tables do not know yet,
// such as a new rule's severity) shows its last part as it is.
func msg(lang, key string) string {
	table := messages["en"]
	if lang == "zh-CN" {
		table = messages["zh-CN"]
	}
	if s, ok := table[key]; ok {
		return s
	}
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '.' {
			return key[i+1:]
		}
	}
	return key
}

var funcs = template.FuncMap{
	"t":    msg,
	"ts":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"num":  func(x float64) string { return fmt.Sprintf("%.4g", x) },
	"sevs": func() []string { return severities },
	"pair": func(a, b any) struct{ A, B any } { return struct{ A, B any }{a, b} },
	"inc":  func(i int) int { return i + 1 },
}

// messages holds every string the console shows, in both languages. A
// test checks that both tables have the same keys and that every key the
// templates use is in them.
var messages = map[string]map[string]string{
	"en": {
		"title.trace": "Leak tracing", "nav.trace": "Leak tracing", "action.trace": "Trace",
		"trace.off":  "Leak tracing is not available on this node.",
		"trace.hint": "Upload a leaked file (CSV, TSV, XLSX, JSON, NDJSON or text, up to 32 MiB). It is read in memory and not stored; the report names exports, actors and events only, never a value from the file.",
		"trace.file": "Leaked file", "trace.report": "Likely sources", "trace.records": "Records with identifiers",
		"trace.distinct": "distinct", "trace.known": "known here", "trace.unknown": "unknown here", "trace.canaries": "canaries",
		"trace.export_verdict": "Exports", "trace.actor_verdict": "Actors", "trace.threshold": "Naming threshold",
		"trace.exports": "Exports ranked", "trace.actors": "Actors ranked", "trace.suspect": "Suspect",
		"trace.probability": "Probability", "trace.matched": "Records held", "trace.exclusive": "Held by nobody else",
		"trace.fingerprint": "Fingerprint", "trace.confirmed": "confirmed", "trace.evidence": "Evidence events",
		"err.trace_file": "Choose a file in a format Custos reads.", "err.trace_size": "The file is larger than 32 MiB.",
		"title.login": "Sign in", "title.overview": "Overview", "title.alerts": "Alert queue", "title.alert": "Alert",
		"title.actor": "Actor timeline", "title.subjects": "Subject history", "title.approvals": "Approvals inbox",
		"title.policy": "Policy and catalogue", "title.audit": "Console audit", "title.users": "Console users", "title.error": "Error",
		"nav.overview": "Overview", "nav.alerts": "Alerts", "nav.subjects": "Subject history", "nav.approvals": "Approvals",
		"nav.policy": "Policy", "nav.audit": "Audit", "nav.users": "Users",
		"role.admin": "administrator", "role.investigator": "investigator", "role.approver": "approver", "role.auditor": "auditor",
		"action.login": "Sign in", "action.logout": "Sign out", "action.filter": "Filter", "action.search": "Search",
		"action.suspend": "Suspend actor", "action.unsuspend": "Lift suspension", "action.approve": "Approve", "action.deny": "Deny",
		"login.name": "User name", "login.password": "Password", "login.code": "Authenticator code",
		"login.hint":         "Accounts are created with 'custos console user add'. Five failed attempts lock an account for 15 minutes.",
		"footer.masked":      "Custos shows masked values and keyed hashes only. Every search is recorded in the ledger.",
		"err.login_required": "Please sign in.", "err.forbidden": "Your role does not allow this.",
		"err.csrf":     "The form expired or did not come from this console. Reload the page and try again.",
		"err.internal": "Something went wrong on our side; the error was logged.", "err.bad_request": "That request is not valid.",
		"err.not_found": "Not found.", "err.bad_login": "Wrong user name, password or code.",
		"err.oidc":         "The single sign-on provider cannot be reached. Try again later, or sign in with a local account.",
		"err.oidc_refused": "Single sign-on refused: your account is not given a console role, or the provider's answer did not check out.",
		"err.oidc_expired": "This sign-in took too long or was started in another browser. Start it again.",
		"login.sso":        "Sign in with single sign-on",
		"err.rate_limited": "Too many failed attempts. Try again later.", "err.reason": "Give a reason of at least 5 characters.",
		"err.search_value": "Choose a type and enter a valid identifier of that type.",
		"err.purpose":      "State the purpose of the search (3 to 200 characters); tickets up to 100.",
		"err.not_approver": "You may not decide this request (your own, or not yours to approve).",
		"err.not_pending":  "This request is no longer pending, or you already approved it.", "err.ledger": "The ledger cannot be read.",
		"sev.critical": "critical", "sev.high": "high", "sev.medium": "medium", "sev.low": "low",
		"status.open": "open", "status.acknowledged": "acknowledged", "status.resolved": "resolved", "status.false_positive": "false positive",
		"set.acknowledged": "Acknowledge", "set.resolved": "Resolve", "set.false_positive": "False positive",
		"filter.all":      "all",
		"overview.volume": "Access volume per category (events per hour, last 48 h)", "overview.risky": "Riskiest actors",
		"overview.no_risk": "No actor has unresolved alerts.", "overview.sensors": "Sensors", "overview.no_events": "No events yet.",
		"overview.ledger": "Ledger", "ledger.size": "Entries", "ledger.checkpoint": "Last signed checkpoint",
		"ledger.off": "The ledger is off.", "ledger.no_checkpoint": "No checkpoint published yet.",
		"sensor.active": "active", "sensor.quiet": "quiet for over 2 h",
		"col.actor": "Actor", "col.alerts": "Alerts", "col.score": "Risk", "col.channel": "Channel", "col.last_hour": "Last active hour",
		"col.events": "Events", "col.state": "State", "col.status": "Status", "col.severity": "Severity", "col.rule": "Rule",
		"col.summary": "Summary", "col.last_seen": "Last seen", "col.time": "Time", "col.action": "Action", "col.resource": "Resource",
		"col.purpose": "Purpose", "col.subjects": "Subjects (masked)", "col.records": "Records", "col.decision": "Decision",
		"col.source": "Source", "col.system": "System", "col.outcome": "Outcome", "col.proof": "Ledger proof",
		"col.requester": "Requester", "col.kind": "Kind", "col.scope": "Scope", "col.reason": "Reason", "col.comment": "Comment",
		"col.category": "Category", "col.sensitive": "Sensitive (PIPL Art. 28)", "col.types": "Data types", "col.user": "User",
		"col.role": "Role", "col.target": "Target", "col.detail": "Detail", "col.created": "Created",
		"alerts.none": "No alerts match.", "alert.span": "Span", "alert.threshold": "Threshold", "alert.observed": "Observed",
		"alert.subjects": "Subject samples (masked)", "alert.triage": "Triage", "alert.timeline": "Evidence timeline (evidence highlighted)", "alert.source_logins": "Logins from", "col.account": "Account",
		"actor.suspended": "Suspended", "actor.reason": "Reason", "actor.volume": "Records per day, last 28 days, against own baseline",
		"actor.baseline": "Baseline (mean records per active day)", "actor.alerts": "Alerts", "actor.logins": "Logins",
		"actor.approvals": "Approval requests", "actor.accesses": "Latest accesses",
		"subjects.hint": "The identifier is hashed with the blind index before lookup and never stored or shown. Your search is itself recorded as an access, with its purpose, and auditors see it.",
		"subjects.type": "Identifier type", "subjects.value": "Identifier", "subjects.ticket": "Ticket",
		"subjects.results": "Who accessed", "subjects.recorded": "This search was recorded in the ledger.",
		"proof.leaf": "leaf", "proof.pending": "not yet checkpointed",
		"approvals.off": "Approvals are off (approvals.rules_file is not set).", "approvals.pending": "Waiting for you",
		"approvals.recent": "Recent requests", "approvals.until": "until",
		"policy.categories": "Categories and data types", "policy.policy": "Policy", "policy.defaults": "No policy file: the built-in defaults decide by category.",
		"policy.catalog": "Catalogue", "policy.no_catalog": "No catalogue file.",
		"users.hint":     "Add users with 'custos console user add NAME --role ROLE'; the TOTP secret is printed once.",
		"users.disabled": "disabled", "users.enabled": "enabled",
		"list.empty": "Nothing yet.", "list.older": "Older", "yes": "yes", "no": "no",
		"chart.volume": "Access volume per category", "chart.actor": "Records per day", "chart.baseline": "own baseline", "chart.empty": "No data in this period",
		"cat.identity": "identity", "cat.contact": "contact", "cat.financial_account": "financial account", "cat.credit": "credit",
		"cat.whereabouts": "whereabouts", "cat.communication": "communication", "cat.accommodation": "accommodation",
		"cat.transaction": "transaction", "cat.health": "health", "cat.biometric": "biometric", "cat.minor": "minor (under 14)",
		"cat.device": "device", "cat.organization": "organization", "cat.other": "other",
		"type.cn_id": "resident ID number", "type.cn_mobile": "mobile number", "type.cn_name": "name", "type.email": "e-mail",
		"type.cn_passport": "passport number", "type.bank_card": "bank card", "type.flight_pnr": "booking reference (PNR)",
		"type.intl_phone": "international phone",
	},
	"zh-CN": {
		"title.trace": "泄露溯源", "nav.trace": "泄露溯源", "action.trace": "溯源",
		"trace.off":  "本节点未提供泄露溯源。",
		"trace.hint": "上传泄露文件（CSV、TSV、XLSX、JSON、NDJSON 或文本，不超过 32 MiB）。文件仅在内存中读取、不会保存；报告只列出导出、人员和事件编号，绝不显示文件中的值。",
		"trace.file": "泄露文件", "trace.report": "可能的来源", "trace.records": "含标识的记录",
		"trace.distinct": "去重后", "trace.known": "本系统已知", "trace.unknown": "本系统未知", "trace.canaries": "金丝雀记录",
		"trace.export_verdict": "导出", "trace.actor_verdict": "人员", "trace.threshold": "认定阈值",
		"trace.exports": "导出排名", "trace.actors": "人员排名", "trace.suspect": "嫌疑对象",
		"trace.probability": "概率", "trace.matched": "持有记录数", "trace.exclusive": "独有记录数",
		"trace.fingerprint": "指纹", "trace.confirmed": "已确认", "trace.evidence": "证据事件",
		"err.trace_file": "请选择 Custos 可读取格式的文件。", "err.trace_size": "文件超过 32 MiB。",
		"title.login": "登录", "title.overview": "总览", "title.alerts": "告警队列", "title.alert": "告警",
		"title.actor": "人员时间线", "title.subjects": "个人信息访问记录", "title.approvals": "审批收件箱",
		"title.policy": "策略与数据目录", "title.audit": "控制台审计", "title.users": "控制台用户", "title.error": "错误",
		"nav.overview": "总览", "nav.alerts": "告警", "nav.subjects": "访问记录查询", "nav.approvals": "审批",
		"nav.policy": "策略", "nav.audit": "审计", "nav.users": "用户",
		"role.admin": "管理员", "role.investigator": "调查员", "role.approver": "审批人", "role.auditor": "审计员",
		"action.login": "登录", "action.logout": "退出", "action.filter": "筛选", "action.search": "查询",
		"action.suspend": "暂停该人员", "action.unsuspend": "解除暂停", "action.approve": "批准", "action.deny": "拒绝",
		"login.name": "用户名", "login.password": "密码", "login.code": "动态验证码",
		"login.hint":         "账号由 'custos console user add' 创建。连续失败五次将锁定账号 15 分钟。",
		"footer.masked":      "Custos 只显示脱敏值和密钥哈希。每次查询都记入防篡改账本。",
		"err.login_required": "请先登录。", "err.forbidden": "您的角色无权执行此操作。",
		"err.csrf":     "表单已过期或并非来自本控制台。请刷新页面后重试。",
		"err.internal": "服务端出现错误，已记录日志。", "err.bad_request": "请求无效。",
		"err.not_found": "未找到。", "err.bad_login": "用户名、密码或验证码错误。",
		"err.oidc":         "无法连接单点登录服务，请稍后再试，或使用本地账号登录。",
		"err.oidc_refused": "单点登录被拒绝：您的账号没有控制台角色，或身份提供方的应答未通过校验。",
		"err.oidc_expired": "登录超时或在其他浏览器中发起，请重新登录。",
		"login.sso":        "使用单点登录",
		"err.rate_limited": "失败次数过多，请稍后再试。", "err.reason": "请填写至少 5 个字的理由。",
		"err.search_value": "请选择类型并输入该类型的有效标识。",
		"err.purpose":      "请说明查询目的（3 至 200 字）；工单号不超过 100 字。",
		"err.not_approver": "您不能处理此申请（本人申请，或不在您的审批范围）。",
		"err.not_pending":  "该申请已不在待审批状态，或您已批准过。", "err.ledger": "无法读取账本。",
		"sev.critical": "严重", "sev.high": "高", "sev.medium": "中", "sev.low": "低",
		"status.open": "待处理", "status.acknowledged": "已确认", "status.resolved": "已解决", "status.false_positive": "误报",
		"set.acknowledged": "确认", "set.resolved": "解决", "set.false_positive": "标为误报",
		"filter.all":      "全部",
		"overview.volume": "各类别访问量（每小时事件数，最近 48 小时）", "overview.risky": "风险最高的人员",
		"overview.no_risk": "没有人员存在未解决的告警。", "overview.sensors": "采集点", "overview.no_events": "尚无事件。",
		"overview.ledger": "账本", "ledger.size": "条目数", "ledger.checkpoint": "最新签名检查点",
		"ledger.off": "账本未启用。", "ledger.no_checkpoint": "尚未发布检查点。",
		"sensor.active": "活跃", "sensor.quiet": "超过 2 小时无事件",
		"col.actor": "人员", "col.alerts": "告警数", "col.score": "风险", "col.channel": "通道", "col.last_hour": "最近活跃时段",
		"col.events": "事件数", "col.state": "状态", "col.status": "状态", "col.severity": "级别", "col.rule": "规则",
		"col.summary": "摘要", "col.last_seen": "最近发生", "col.time": "时间", "col.action": "操作", "col.resource": "资源",
		"col.purpose": "目的", "col.subjects": "个人（脱敏）", "col.records": "记录数", "col.decision": "决定",
		"col.source": "来源", "col.system": "系统", "col.outcome": "结果", "col.proof": "账本证明",
		"col.requester": "申请人", "col.kind": "类型", "col.scope": "范围", "col.reason": "理由", "col.comment": "备注",
		"col.category": "类别", "col.sensitive": "敏感（个保法第 28 条）", "col.types": "数据类型", "col.user": "用户",
		"col.role": "角色", "col.target": "对象", "col.detail": "详情", "col.created": "创建时间",
		"alerts.none": "没有符合条件的告警。", "alert.span": "时间范围", "alert.threshold": "阈值", "alert.observed": "观测值",
		"alert.subjects": "涉及个人样例（脱敏）", "alert.triage": "处置", "alert.timeline": "证据时间线（证据高亮）", "alert.source_logins": "登录记录，来源", "col.account": "账号",
		"actor.suspended": "已暂停", "actor.reason": "理由", "actor.volume": "最近 28 天每日记录数，与本人基线对比",
		"actor.baseline": "基线（活跃日平均记录数）", "actor.alerts": "告警", "actor.logins": "登录",
		"actor.approvals": "审批申请", "actor.accesses": "最近访问",
		"subjects.hint": "标识在查询前经盲索引哈希，不会被存储或显示。您的查询本身也作为一次访问连同目的被记录，审计员可见。",
		"subjects.type": "标识类型", "subjects.value": "标识", "subjects.ticket": "工单号",
		"subjects.results": "访问过此人的记录", "subjects.recorded": "本次查询已记入账本。",
		"proof.leaf": "叶子", "proof.pending": "尚未纳入检查点",
		"approvals.off": "审批未启用（未设置 approvals.rules_file）。", "approvals.pending": "待您审批",
		"approvals.recent": "近期申请", "approvals.until": "有效至",
		"policy.categories": "类别与数据类型", "policy.policy": "策略", "policy.defaults": "未配置策略文件：按类别使用内置默认规则。",
		"policy.catalog": "数据目录", "policy.no_catalog": "未配置数据目录文件。",
		"users.hint":     "使用 'custos console user add 用户名 --role 角色' 添加用户；TOTP 密钥只显示一次。",
		"users.disabled": "已停用", "users.enabled": "启用",
		"list.empty": "暂无。", "list.older": "更早", "yes": "是", "no": "否",
		"chart.volume": "各类别访问量", "chart.actor": "每日记录数", "chart.baseline": "本人基线", "chart.empty": "此期间无数据",
		"cat.identity": "身份", "cat.contact": "联系方式", "cat.financial_account": "金融账户", "cat.credit": "征信",
		"cat.whereabouts": "行踪轨迹", "cat.communication": "通信", "cat.accommodation": "住宿",
		"cat.transaction": "交易", "cat.health": "健康", "cat.biometric": "生物识别", "cat.minor": "未成年人（不满 14 周岁）",
		"cat.device": "设备", "cat.organization": "组织", "cat.other": "其他",
		"type.cn_id": "居民身份证号", "type.cn_mobile": "手机号", "type.cn_name": "姓名", "type.email": "电子邮箱",
		"type.cn_passport": "护照号", "type.bank_card": "银行卡号", "type.flight_pnr": "订座记录编号（PNR）",
		"type.intl_phone": "国际电话",
	},
}
