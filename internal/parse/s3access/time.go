package s3access

import "time"

// parseTime parses the time of an access log record, "06/Feb/2019:00:00:38
// +0000" (timeLayout), and returns it in UTC. It handles only the exact,
// valid form S3 writes and reports false for anything else; the caller then
// falls back to time.Parse, which is about ten times slower.
func parseTime(b []byte) (time.Time, bool) {
	// 02/Jan/2006:15:04:05 -0700
	// 0123456789012345678901234 5
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' ||
		b[14] != ':' || b[17] != ':' || b[20] != ' ' {
		return time.Time{}, false
	}
	day, ok1 := num2(b[0], b[1])
	year, ok2 := num2(b[7], b[8])
	y2, ok3 := num2(b[9], b[10])
	hour, ok4 := num2(b[12], b[13])
	minute, ok5 := num2(b[15], b[16])
	sec, ok6 := num2(b[18], b[19])
	oh, ok7 := num2(b[22], b[23])
	om, ok8 := num2(b[24], b[25])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) {
		return time.Time{}, false
	}
	year = year*100 + y2
	month := monthNum(b[3], b[4], b[5])
	if month == 0 || year < 1 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 || oh > 23 || om > 59 {
		return time.Time{}, false
	}
	off := oh*3600 + om*60
	switch b[21] {
	case '+':
	case '-':
		off = -off
	default:
		return time.Time{}, false
	}
	secs := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec-off)
	return time.Unix(secs, 0).UTC(), true
}

func num2(a, b byte) (int, bool) {
	if a-'0' > 9 || b-'0' > 9 {
		return 0, false
	}
	return int(a-'0')*10 + int(b-'0'), true
}

// monthNum returns 1..12 for "Jan".."Dec" (exact case), else 0.
func monthNum(a, b, c byte) int {
	switch uint32(a)<<16 | uint32(b)<<8 | uint32(c) {
	case 'J'<<16 | 'a'<<8 | 'n':
		return 1
	case 'F'<<16 | 'e'<<8 | 'b':
		return 2
	case 'M'<<16 | 'a'<<8 | 'r':
		return 3
	case 'A'<<16 | 'p'<<8 | 'r':
		return 4
	case 'M'<<16 | 'a'<<8 | 'y':
		return 5
	case 'J'<<16 | 'u'<<8 | 'n':
		return 6
	case 'J'<<16 | 'u'<<8 | 'l':
		return 7
	case 'A'<<16 | 'u'<<8 | 'g':
		return 8
	case 'S'<<16 | 'e'<<8 | 'p':
		return 9
	case 'O'<<16 | 'c'<<8 | 't':
		return 10
	case 'N'<<16 | 'o'<<8 | 'v':
		return 11
	case 'D'<<16 | 'e'<<8 | 'c':
		return 12
	}
	return 0
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to the given date
// of the proleptic Gregorian calendar (year >= 1), after Howard Hinnant's
// days_from_civil.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // y >= 0
	yoe := y - era*400
	mp := m - 3
	if m <= 2 {
		mp = m + 9
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
