# no manifest in this version folder
