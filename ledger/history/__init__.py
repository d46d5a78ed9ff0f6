"""History: a unit's earlier ledger imported from CSV/XLSX, and paper manifests back-entered (转移管理办法 Art. 14).

Both write ordinary journal records through the ordinary services, marked with their source document.
"""
