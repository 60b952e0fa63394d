package corpus

import (
	"bufio"
	"fmt"
	"io"
)

// prose are sentences without personal data, English and Chinese, of the
// kind that fills reports, mails, logs and web pages.
var prose = []string{
	"The quarterly report is attached for review. ", "Please reset your password before Friday. ",
	"Thanks, see you at the meeting. ", "Build finished in 42.7s with 0 errors. ",
	"The committee approved the revised budget after a short discussion. ",
	"All services were restored at noon and no data was lost. ",
	"Remember to update the documentation when the interface changes. ",
	"Our team will review the proposal and respond within two weeks. ",
	"cache hit ratio stayed above ninety percent during the peak hour; ",
	"request completed status=ok duration=12ms route=/api/v2/items ",
	"会议纪要已上传至共享目录，请大家查阅。", "本季度业绩同比增长百分之十二。", "今天系统例行维护，请注意保存数据。",
	"客户满意度调查将于下周一开始。", "新版本已发布，欢迎体验。", "如有疑问请联系客服。",
	"项目组将在月底前完成需求评审和技术方案设计。", "本周的培训课程改为线上进行，请提前安装会议软件。",
	"请各部门于周五前提交年度预算草案。", "数据中心完成了例行巡检，设备运行正常。",
}

// WritePlain writes at least size bytes of prose with little personal
// data — one generated record line (Line) in every 100 lines, about one
// value per 10 KB — for benchmarks of text as most documents are; the
// same seed and size always produce the same bytes.
func WritePlain(w io.Writer, size int64, seed int64) (int64, error) {
	g := New(seed)
	bw := bufio.NewWriterSize(w, 1<<20)
	var n int64
	var line []byte
	var labels []Label
	for k := 0; n < size; k++ {
		line = line[:0]
		if k%100 == 99 {
			line, labels = g.Line(line, labels[:0])
		} else {
			for range 3 + g.r.IntN(4) {
				line = append(line, prose[g.r.IntN(len(prose))]...)
			}
			line = append(line, '\n')
		}
		m, err := bw.Write(line)
		n += int64(m)
		if err != nil {
			return n, fmt.Errorf("corpus: write: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("corpus: write: %w", err)
	}
	return n, nil
}
