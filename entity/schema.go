package entity

// JSONSchema methods describe the enums for the OpenAPI generator: a string
// with its allowed values.

func enumSchema[T ~string](values []T) map[string]any {
	e := make([]any, len(values))
	for i, v := range values {
		e[i] = string(v)
	}
	return map[string]any{"type": "string", "enum": e}
}

// JSONSchema describes Role.
func (Role) JSONSchema() map[string]any { return enumSchema([]Role{RoleCustomer, RoleAdmin}) }

// JSONSchema describes Currency.
func (Currency) JSONSchema() map[string]any { return enumSchema(Currencies()) }

// JSONSchema describes TransactionType.
func (TransactionType) JSONSchema() map[string]any { return enumSchema(TransactionTypes()) }

// JSONSchema describes TransactionStatus.
func (TransactionStatus) JSONSchema() map[string]any {
	return enumSchema([]TransactionStatus{TxPending, TxCompleted, TxFailed, TxCancelled})
}

// JSONSchema describes AssetTxType.
func (AssetTxType) JSONSchema() map[string]any { return enumSchema([]AssetTxType{AssetBuy, AssetSell}) }

// JSONSchema describes OrderType.
func (OrderType) JSONSchema() map[string]any { return enumSchema(OrderTypes()) }

// JSONSchema describes OrderStatus.
func (OrderStatus) JSONSchema() map[string]any { return enumSchema(OrderStatuses()) }

// JSONSchema describes TimeInForce.
func (TimeInForce) JSONSchema() map[string]any {
	return enumSchema([]TimeInForce{GTC, Day, GTD, IOC, FOK})
}
