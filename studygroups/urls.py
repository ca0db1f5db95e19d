from django.urls import path

from studygroups import views

urlpatterns = [
    path("", views.StudyGroupCreateView.as_view()),
    path("/course/<uuid:course_id>", views.CourseStudyGroupsView.as_view()),
    path("/<uuid:group_id>", views.StudyGroupDetailView.as_view()),
    path("/<uuid:group_id>/join", views.StudyGroupJoinView.as_view()),
    path("/<uuid:group_id>/leave", views.StudyGroupLeaveView.as_view()),
    path("/<uuid:group_id>/members", views.StudyGroupMembersView.as_view()),
    path("/<uuid:group_id>/members/<uuid:user_id>", views.StudyGroupMemberDetailView.as_view()),
    path("/<uuid:group_id>/messages", views.StudyGroupMessagesView.as_view()),
    path("/<uuid:group_id>/messages/<uuid:message_id>", views.StudyGroupMessageDetailView.as_view()),
]
