using System.Text;

namespace DumpShell.Format.Minidump;

public sealed partial class MinidumpFile
{
    private IReadOnlyList<string> _comments = [];
    private bool _commentsRead;

    /// <summary>The CommentStreamA and CommentStreamW texts (the writer's free-form notes), each up to its first NUL.</summary>
    public IReadOnlyList<string> Comments => Once(ref _comments, ref _commentsRead, ReadComments);

    private IReadOnlyList<string> ReadComments()
    {
        var comments = new List<string>();
        foreach (var entry in Directory)
        {
            string? text = entry.Type switch
            {
                (uint)MinidumpStreamType.CommentA => Encoding.Latin1.GetString(StreamBytes(entry)),
                (uint)MinidumpStreamType.CommentW => Encoding.Unicode.GetString(StreamBytes(entry)[..(StreamBytes(entry).Length & ~1)]),
                _ => null,
            };
            if (text is null) continue;
            int nul = text.IndexOf('\0');
            comments.Add(nul >= 0 ? text[..nul] : text);
        }
        return comments;
    }
}
