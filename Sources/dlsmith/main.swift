print("dlsmith")
