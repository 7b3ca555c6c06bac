using System.Management.Automation;
using DumpShell.Format;

namespace DumpShell.Commands;

/// <summary>Turns -Path arguments into opened dumps for a cmdlet, writing one ErrorRecord per path that fails.</summary>
internal static class DumpResolver
{
    /// <summary>Expands wildcards (relative paths resolve against PowerShell's current location).</summary>
    public static IEnumerable<string> ResolveFiles(PSCmdlet cmdlet, string path)
    {
        try
        {
            return WildcardPattern.ContainsWildcardCharacters(path)
                ? cmdlet.GetResolvedProviderPathFromPSPath(path, out _)
                : [cmdlet.GetUnresolvedProviderPathFromPSPath(path)];
        }
        catch (Exception e) when (e is ItemNotFoundException or System.Management.Automation.DriveNotFoundException or ProviderNotFoundException
                                      or NotSupportedException or ArgumentException)
        {
            cmdlet.WriteError(new ErrorRecord(e, "DumpFileNotFound", ErrorCategory.ObjectNotFound, path));
            return [];
        }
    }

    public static IEnumerable<Dump> Open(PSCmdlet cmdlet, IEnumerable<string> paths)
    {
        foreach (var path in paths)
            foreach (var file in ResolveFiles(cmdlet, path))
                if (TryOpen(cmdlet, file) is { } dump)
                    yield return dump;
    }

    private static Dump? TryOpen(PSCmdlet cmdlet, string fullPath)
    {
        try
        {
            return DumpCache.Current.Open(fullPath);
        }
        catch (DumpFormatException e)
        {
            var category = e.ErrorId switch
            {
                "DumpFileNotFound" => ErrorCategory.ObjectNotFound,
                "PathIsDirectory" => ErrorCategory.InvalidArgument,
                _ => ErrorCategory.InvalidData,
            };
            cmdlet.WriteError(new ErrorRecord(e, e.ErrorId, category, fullPath));
        }
        catch (UnauthorizedAccessException e)
        {
            cmdlet.WriteError(new ErrorRecord(e, "DumpAccessDenied", ErrorCategory.PermissionDenied, fullPath));
        }
        catch (IOException e)
        {
            cmdlet.WriteError(new ErrorRecord(e, "DumpOpenFailed", ErrorCategory.ReadError, fullPath));
        }
        return null;
    }
}
