package custos

// DataType names a kind of personal identifier or attribute. The set is the
// vocabulary of DESIGN.md; detectors, the catalogue, masking and the blind
// index all speak it.
type DataType = string

const (
	TypeCNID        DataType = "cn_id"
	TypeCNMobile    DataType = "cn_mobile"
	TypeCNLandline  DataType = "cn_landline"
	TypeBankCard    DataType = "bank_card"
	TypeCNUSCC      DataType = "cn_uscc"
	TypeCNPassport  DataType = "cn_passport"
	TypeCNPlate     DataType = "cn_plate"
	TypeHKID        DataType = "hk_id"
	TypeTWID        DataType = "tw_id"
	TypeHKMOPermit  DataType = "hkmo_permit"
	TypeEmail       DataType = "email"
	TypeIPv4        DataType = "ipv4"
	TypeIPv6        DataType = "ipv6"
	TypeIMEI        DataType = "imei"
	TypeGeoCoord    DataType = "geo_coord"
	TypeCNName      DataType = "cn_name"
	TypeCNAddress   DataType = "cn_address"
	TypeFlightPNR   DataType = "flight_pnr"
	TypeIBAN        DataType = "iban"
	TypeUSSSN       DataType = "us_ssn"
	TypeIntlPhone   DataType = "intl_phone"
	TypeDateOfBirth DataType = "date_of_birth"
)

// Category is a class of personal information following PIPL Article 28
// and GB/T 35273. Sensitive categories get stricter defaults everywhere.
type Category = string

const (
	CategoryIdentity      Category = "identity"
	CategoryContact       Category = "contact"
	CategoryFinancial     Category = "financial_account"
	CategoryCredit        Category = "credit"
	CategoryWhereabouts   Category = "whereabouts"
	CategoryCommunication Category = "communication"
	CategoryAccommodation Category = "accommodation"
	CategoryTransaction   Category = "transaction"
	CategoryHealth        Category = "health"
	CategoryBiometric     Category = "biometric"
	CategoryMinor         Category = "minor"
	CategoryDevice        Category = "device"
	CategoryOrganization  Category = "organization"
)

// DataTypes lists every data type in the vocabulary, in documentation order.
var DataTypes = []DataType{
	TypeCNID, TypeCNMobile, TypeCNLandline, TypeBankCard, TypeCNUSCC,
	TypeCNPassport, TypeCNPlate, TypeHKID, TypeTWID, TypeHKMOPermit,
	TypeEmail, TypeIPv4, TypeIPv6, TypeIMEI, TypeGeoCoord, TypeCNName,
	TypeCNAddress, TypeFlightPNR, TypeIBAN, TypeUSSSN, TypeIntlPhone,
	TypeDateOfBirth,
}

// Categories lists every category in the vocabulary.
var Categories = []Category{
	CategoryIdentity, CategoryContact, CategoryFinancial, CategoryCredit,
	CategoryWhereabouts, CategoryCommunication, CategoryAccommodation,
	CategoryTransaction, CategoryHealth, CategoryBiometric, CategoryMinor,
	CategoryDevice, CategoryOrganization,
}

// typeCategory is the category a data type belongs to when nothing more
// specific is known (a catalogue entry can say more: a phone number in a
// call-record table is also communication data).
var typeCategory = map[DataType]Category{
	TypeCNID:        CategoryIdentity,
	TypeCNMobile:    CategoryContact,
	TypeCNLandline:  CategoryContact,
	TypeBankCard:    CategoryFinancial,
	TypeCNUSCC:      CategoryOrganization,
	TypeCNPassport:  CategoryIdentity,
	TypeCNPlate:     CategoryWhereabouts,
	TypeHKID:        CategoryIdentity,
	TypeTWID:        CategoryIdentity,
	TypeHKMOPermit:  CategoryIdentity,
	TypeEmail:       CategoryContact,
	TypeIPv4:        CategoryDevice,
	TypeIPv6:        CategoryDevice,
	TypeIMEI:        CategoryDevice,
	TypeGeoCoord:    CategoryWhereabouts,
	TypeCNName:      CategoryIdentity,
	TypeCNAddress:   CategoryContact,
	TypeFlightPNR:   CategoryWhereabouts,
	TypeIBAN:        CategoryFinancial,
	TypeUSSSN:       CategoryIdentity,
	TypeIntlPhone:   CategoryContact,
	TypeDateOfBirth: CategoryIdentity,
}

// CategoryOf returns the default category of a data type, or "" for a type
// outside the vocabulary.
func CategoryOf(t DataType) Category { return typeCategory[t] }

// KnownType reports whether t is in the data-type vocabulary.
func KnownType(t string) bool { _, ok := typeCategory[t]; return ok }

// KnownCategory reports whether c is in the category vocabulary.
func KnownCategory(c string) bool {
	for _, k := range Categories {
		if k == c {
			return true
		}
	}
	return false
}

// sensitiveCategories are the PIPL Article 28 sensitive categories.
var sensitiveCategories = map[Category]bool{
	CategoryIdentity: true, CategoryFinancial: true, CategoryCredit: true,
	CategoryWhereabouts: true, CategoryCommunication: true, CategoryHealth: true,
	CategoryBiometric: true, CategoryMinor: true,
}

// Sensitive reports whether c is a sensitive category under PIPL Art. 28.
func Sensitive(c Category) bool { return sensitiveCategories[c] }
