#pragma TextEncoding = "UTF-8"
#pragma rtGlobals = 3
#pragma IgorVersion = 8.0
#pragma version = 1.0

// MapManagerPost.ipf: post a Map Manager map folder to a PyMapManager server.
//
// MM_PostMap(folderPath, server, owner, token, overwrite) zips the map folder (the
// operating system's own zip: ditto on macOS, PowerShell's Compress-Archive on Windows),
// builds a multipart/form-data request with the zip in the field "file" and sends it with
// URLRequest to   <server>/api/v1/maps/<owner>[?overwrite=true]
// with the header "Authorization: Bearer <token>". It prints the server's answer: 201 and
// the map's id, or why the map was refused (400 names the files, 409 the name exists,
// 413 too large). See README.md beside this file.
//
// The request is built exactly as tests/upload/test_igor.py builds it (the test reads the
// constants below): keep both in step.

StrConstant kMMBoundaryPrefix = "----MapManagerIgorBoundary"
StrConstant kMMCRLF = "\r\n"
StrConstant kMMDisposition = "Content-Disposition: form-data; name=\"file\"; filename=\""
StrConstant kMMPartType = "Content-Type: application/zip"
StrConstant kMMContentType = "Content-Type: multipart/form-data; boundary="
StrConstant kMMAuthorization = "Authorization: Bearer "
// URLRequest takes several headers in one string, one per line
StrConstant kMMHeaderSep = "\n"

// The multipart body around the zip's bytes.
Function/S MM_MultipartBody(zipBytes, zipName, boundary)
	String zipBytes, zipName, boundary

	String body = "--" + boundary + kMMCRLF
	body += kMMDisposition + zipName + "\"" + kMMCRLF
	body += kMMPartType + kMMCRLF + kMMCRLF
	body += zipBytes + kMMCRLF
	body += "--" + boundary + "--" + kMMCRLF
	return body
End

// Zip folderPath (a full path, Igor or native style) into zipPath with the OS's tools.
// The zip holds the folder itself: <map>/<map>.txt, <map>/stackdb/...
Function MM_ZipFolder(folderPath, zipPath)
	String folderPath, zipPath

	String nativeFolder = ParseFilePath(5, folderPath, "*", 0, 0)
	String nativeZip = ParseFilePath(5, zipPath, "*", 0, 0)
	String cmd
	DeleteFile/Z zipPath
	if (CmpStr(IgorInfo(2), "Macintosh") == 0)
		nativeFolder = ParseFilePath(5, folderPath, "/", 0, 0)
		nativeZip = ParseFilePath(5, zipPath, "/", 0, 0)
		sprintf cmd, "do shell script \"/usr/bin/ditto -c -k --norsrc --keepParent '%s' '%s'\"", nativeFolder, nativeZip
		ExecuteScriptText/Z cmd
	else
		sprintf cmd, "powershell.exe -NoProfile -Command \"Compress-Archive -Path '%s' -DestinationPath '%s' -Force\"", nativeFolder, nativeZip
		ExecuteScriptText/B/W=600/Z cmd
	endif
	GetFileFolderInfo/Q/Z zipPath
	return V_flag == 0 && V_isFile
End

// Read a whole file into a string (Igor strings hold bytes).
Function/S MM_ReadBytes(filePath)
	String filePath

	Variable refNum
	Open/R/Z refNum as filePath
	if (V_flag != 0)
		return ""
	endif
	FStatus refNum
	String data = PadString("", V_logEOF, 0)
	FBinRead refNum, data
	Close refNum
	return data
End

// Post the map folder folderPath to server (e.g. "http://lab-server:8050") as owner's map.
// token: an API token from the server's My maps page. overwrite: 1 replaces a map of the
// same name (the server keeps the old one as a version). Returns the HTTP status.
Function MM_PostMap(folderPath, server, owner, token, overwrite)
	String folderPath, server, owner, token
	Variable overwrite

	String mapName = ParseFilePath(0, RemoveEnding(folderPath, ":"), ":", 1, 0)
	String tmp = SpecialDirPath("Temporary", 0, 0, 0)
	String zipPath = tmp + mapName + ".zip"
	String bodyPath = tmp + mapName + ".multipart"
	if (!MM_ZipFolder(folderPath, zipPath))
		Print "MM_PostMap: could not zip " + folderPath
		return -1
	endif
	String boundary = kMMBoundaryPrefix + num2istr(abs(trunc(StopMSTimer(-2))))
	String body = MM_MultipartBody(MM_ReadBytes(zipPath), mapName + ".zip", boundary)
	Variable refNum
	Open refNum as bodyPath
	FBinWrite refNum, body
	Close refNum

	String url = RemoveEnding(server, "/") + "/api/v1/maps/" + owner
	if (overwrite)
		url += "?overwrite=true"
	endif
	String headers = kMMContentType + boundary + kMMHeaderSep + kMMAuthorization + token
	URLRequest/DFIL=bodyPath/TIME=3600/Z url=url, method=post, headers=headers
	Variable err = V_flag
	Variable status = V_responseCode
	DeleteFile/Z bodyPath
	DeleteFile/Z zipPath
	if (err != 0)
		Print "MM_PostMap: the request failed (" + GetErrMessage(err) + ")"
		return -1
	endif
	Print "MM_PostMap: " + num2istr(status) + " " + S_serverResponse
	return status
End

// A dialog: choose the map folder, then post it.
Function MM_PostMapDialog(server, owner, token)
	String server, owner, token

	NewPath/O/Q/M="Choose a Map Manager map folder" mmPostPath
	if (V_flag != 0)
		return 0
	endif
	PathInfo mmPostPath
	return MM_PostMap(S_path, server, owner, token, 0)
End
