package pii

// Compiled tables: administrative regions, telephone number plans.

// prefectures lists, per GB/T 2260 province code, the prefecture codes
// (digits 3-4 of a resident ID) in use now or in the past. Codes 21-35
// were the old "地区" prefectures that many pre-2000 IDs still carry; they
// are accepted for every province that had them. 90 is "省直辖".
var prefectures = map[int]string{
	11: "01 02",
	12: "01 02",
	13: "01 02 03 04 05 06 07 08 09 10 11 21-35",
	14: "01 02 03 04 05 06 07 08 09 10 11 21-35",
	15: "01 02 03 04 05 06 07 08 09 21-35",
	21: "01 02 03 04 05 06 07 08 09 10 11 12 13 14 21-35",
	22: "01 02 03 04 05 06 07 08 21-35",
	23: "01 02 03 04 05 06 07 08 09 10 11 12 21-35",
	31: "01 02",
	32: "01 02 03 04 05 06 07 08 09 10 11 12 13 21-35",
	33: "01 02 03 04 05 06 07 08 09 10 11 21-35",
	34: "01 02 03 04 05 06 07 08 10 11 12 13 15 16 17 18 21-35",
	35: "01 02 03 04 05 06 07 08 09 21-35",
	36: "01 02 03 04 05 06 07 08 09 10 11 21-35",
	37: "01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 21-35",
	41: "01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 21-35 90",
	42: "01 02 03 05 06 07 08 09 10 11 12 13 21-35 90",
	43: "01 02 03 04 05 06 07 08 09 10 11 12 13 21-35",
	44: "01 02 03 04 05 06 07 08 09 12 13 14 15 16 17 18 19 20 21-35 51 52 53",
	45: "01 02 03 04 05 06 07 08 09 10 11 12 13 14 21-35",
	46: "01 02 03 04 21-35 90",
	50: "01 02 03",
	51: "01 03 04 05 06 07 08 09 10 11 13 14 15 16 17 18 19 20 21-35",
	52: "01 02 03 04 05 06 21-35",
	53: "01 02 03 04 05 06 07 08 09 21-35",
	54: "01 02 03 04 05 06 21-35",
	61: "01 02 03 04 05 06 07 08 09 10 21-35",
	62: "01 02 03 04 05 06 07 08 09 10 11 12 21-35",
	63: "01 02 21-35",
	64: "01 02 03 04 05 21-35",
	65: "01 02 04 05 21-35 40 41 42 43 90",
	71: "00",
	81: "00",
	82: "00",
}

// regionOK[province*100+prefecture] is true for a valid 4-digit prefix.
var regionOK = func() (t [10000]bool) {
	for p, s := range prefectures {
		for i := 0; i < len(s); {
			a := int(s[i]-'0')*10 + int(s[i+1]-'0')
			b := a
			i += 2
			if i < len(s) && s[i] == '-' {
				b = int(s[i+1]-'0')*10 + int(s[i+2]-'0')
				i += 3
			}
			for c := a; c <= b; c++ {
				t[p*100+c] = true
			}
			i++ // space
		}
	}
	return t
}()

// validRegion checks the province and prefecture of a 6-digit
// administrative division code. County digits are not checked: codes
// were renumbered too often for a compact table to be exact.
func validRegion(d []byte) bool {
	return allDigits(d[:6]) && regionOK[atoi(d[:4])]
}

// mobileSegment reports whether the 11-digit number d (starting with 1)
// belongs to a segment MIIT has assigned to personal mobile service.
// Decisions, see docs/discovery.md:
//   - included: 13x; 145/147/149 (data cards, held by persons); 15x but
//     154; 162/165/167/170/171 (virtual operators — fraud-heavy, personal);
//     166; 173/175-178; 18x; 190-193/195-199 (incl. 192 China Broadnet).
//   - excluded: 140-144/146/148 (13-digit IoT, M2M), 172 (IoT), 174
//     (satellite / emergency), 154, 194, 10x-12x (not assigned).
func mobileSegment(d []byte) bool {
	if len(d) != 11 || d[0] != '1' || !allDigits(d) {
		return false
	}
	switch d[1] {
	case '3', '8':
		return true
	case '4':
		return d[2] == '5' || d[2] == '7' || d[2] == '9'
	case '5':
		return d[2] != '4'
	case '6':
		return d[2] == '2' || d[2] == '5' || d[2] == '6' || d[2] == '7'
	case '7':
		return d[2] != '2' && d[2] != '4' && d[2] != '9'
	case '9':
		return d[2] != '4'
	}
	return false
}

// landline reports whether d (digits only) is a mainland fixed-line
// number: 0 + area code (10, 2x, or 3-digit codes 3xx-9xx) + a 7- or
// 8-digit subscriber number not starting with 0 or 1.
func landline(d []byte) bool {
	n := len(d)
	if n < 10 || n > 12 || d[0] != '0' || !allDigits(d) {
		return false
	}
	var area int
	switch {
	case d[1] == '1' && d[2] == '0', d[1] == '2':
		area = 3
	case d[1] >= '3' && d[1] <= '9':
		area = 4
	default:
		return false
	}
	sub := n - area
	if sub != 7 && sub != 8 {
		return false
	}
	if area == 3 && sub != 8 {
		return false
	}
	return d[area] >= '2' && d[area] <= '8'
}

// areaCode reports whether d is a whole area code with its leading 0.
func areaCode(d []byte) bool {
	switch len(d) {
	case 3:
		return d[0] == '0' && (d[1] == '1' && d[2] == '0' || d[1] == '2')
	case 4:
		return d[0] == '0' && d[1] >= '3' && d[1] <= '9'
	}
	return false
}

// countryCode returns the length of the ITU-T E.164 country calling code
// at the start of d, or 0 when d starts with no assigned code.
func countryCode(d []byte) int {
	if len(d) < 3 {
		return 0
	}
	switch d[0] {
	case '1', '7':
		return 1
	case '0':
		return 0
	}
	two := atoi(d[:2])
	switch two {
	case 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49,
		51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66,
		81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98:
		return 2
	}
	switch two {
	case 21, 22, 23, 24, 25, 26, 29, 35, 37, 38, 42, 50, 59, 67, 68, 69,
		85, 87, 88, 96, 97, 99:
		return 3
	}
	return 0
}
